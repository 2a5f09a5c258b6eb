package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** Access permission of an IOTLB mapping or request ({@code VHOST_ACCESS_RO/WO/RW}). */
public enum Access {
    /** Device reads (guest memory → device). */
    RO(VHOST_ACCESS_RO()),
    /** Device writes (device → guest memory). */
    WO(VHOST_ACCESS_WO()),
    /** Both. */
    RW(VHOST_ACCESS_RW());

    private static final Access[] BY_CODE = {RO, WO, RW};
    private final int code;

    Access(int code) { this.code = code; }

    /** The value of the {@code perm} field. */
    public int code() { return code; }

    /** Whether a mapping with this permission allows {@code request}. */
    public boolean allows(Access request) {
        return (code & request.code) == request.code;
    }

    /** The permission for a {@code perm} value; {@link IllegalArgumentException} for anything but 1, 2, 3. */
    public static Access of(int code) {
        if (code >= 1 && code <= 3) {
            return BY_CODE[code - 1]; // no allocation: the IOTLB manager decodes every MISS with this
        }
        throw new IllegalArgumentException("unknown IOTLB permission " + code + " (expected 1 RO, 2 WO, 3 RW)");
    }
}
