package io.vhost4j.vdpa;

import io.vhost4j.Access;

import java.io.IOException;

/** A VDUSE device touched an IOVA its IOTLB does not map with the access it needed. */
public final class IovaFaultException extends IOException {
    private final long iova;
    private final long length;
    private final Access access;

    /** A fault at {@code iova} for {@code length} bytes of {@code access}. */
    public IovaFaultException(long iova, long length, Access access) {
        super("IOVA 0x" + Long.toHexString(iova) + " + " + length + " is not mapped " + access);
        this.iova = iova;
        this.length = length;
        this.access = access;
    }

    /** The first address of the access. */
    public long iova() { return iova; }

    /** The access's length in bytes. */
    public long length() { return length; }

    /** What the device wanted to do. */
    public Access access() { return access; }
}
