/*
 * The plain-C side of `vhostctl bench`: the same syscalls as the Java code, in C, called through FFM in
 * the same process and run, so each figure is a side-by-side ratio. Built by ci/bench:
 *   gcc -O2 -shared -fPIC -o target/native/libvhost4j-cbench.so native/cbench.c
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* n calls of ioctl(fd, VHOST_GET_FEATURES); returns the elapsed nanoseconds, or -errno. */
int64_t cbench_get_features(int fd, int64_t n) {
    uint64_t features;
    int64_t t0 = now_ns();
    for (int64_t i = 0; i < n; i++) {
        if (ioctl(fd, VHOST_GET_FEATURES, &features) < 0) {
            return -errno;
        }
    }
    return now_ns() - t0;
}

/*
 * Serves device-IOTLB misses on vhost fd `fd` until `stop_fd` (an eventfd) is readable: poll, read every
 * queued MISS until EAGAIN, translate it as io.vhost4j.iotlb.OffsetTranslator does (IOVA = GPA + offset,
 * `granule`-aligned pieces inside [gpa_base, gpa_base + size), RW), write the UPDATE (v2 if `v2`).
 * out[0] = misses served, out[1] = sum of read-to-update nanoseconds. Returns 0 or -errno.
 */
int cbench_serve_misses(int fd, int stop_fd, uint64_t offset, uint64_t gpa_base, uint64_t size, uint64_t ubase,
                        uint64_t granule, int v2, int64_t *out) {
    struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    struct vhost_msg_v2 msg;
    out[0] = out[1] = 0;
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (pfd[1].revents & POLLIN) {
            return 0;
        }
        for (;;) {
            ssize_t r = read(fd, &msg, sizeof msg);
            if (r < 0) {
                if (errno == EAGAIN) break;
                if (errno == EINTR) continue;
                return -errno;
            }
            if (r != sizeof msg || msg.iotlb.type != VHOST_IOTLB_MISS) continue;
            int64_t t0 = now_ns();
            uint64_t iova = msg.iotlb.iova, gpa = iova - offset;
            if (gpa - gpa_base >= size) continue; /* unanswerable: a fault */
            uint64_t first = iova & ~(granule - 1), last = first + granule - 1;
            if (first < gpa_base + offset) first = gpa_base + offset;
            if (last > gpa_base + offset + size - 1) last = gpa_base + offset + size - 1;
            memset(&msg, 0, sizeof msg);
            msg.type = v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
            msg.iotlb.iova = first;
            msg.iotlb.size = last - first + 1;
            msg.iotlb.uaddr = ubase + (first - offset - gpa_base);
            msg.iotlb.perm = VHOST_ACCESS_RW;
            msg.iotlb.type = VHOST_IOTLB_UPDATE;
            if (write(fd, &msg, sizeof msg) != (ssize_t) sizeof msg) return -errno;
            out[0]++;
            out[1] += now_ns() - t0;
        }
    }
}
