/*
 * The plain-C side of `vhostctl bench`: the same syscalls as the Java code, in C, called through FFM in
 * the same process and run, so each figure is a side-by-side ratio. Built by ci/bench:
 *   gcc -O2 -shared -fPIC -o target/native/libvhost4j-cbench.so native/cbench.c
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
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

/* One miss translated: the UPDATE's range and permission, or 0 when there is no mapping (a fault). */
typedef int (*translate_fn)(const void *ctx, uint64_t iova, struct vhost_iotlb_msg *out);

/* As io.vhost4j.testkit.OffsetTranslator: IOVA = GPA + offset, `granule`-aligned pieces inside the window, RW. */
struct offset_ctx { uint64_t offset, gpa_base, size, ubase, granule; };

static int translate_offset(const void *p, uint64_t iova, struct vhost_iotlb_msg *m) {
    const struct offset_ctx *c = p;
    uint64_t gpa = iova - c->offset;
    if (gpa - c->gpa_base >= c->size) return 0;
    uint64_t first = iova & ~(c->granule - 1), last = first + c->granule - 1;
    if (first < c->gpa_base + c->offset) first = c->gpa_base + c->offset;
    if (last > c->gpa_base + c->offset + c->size - 1) last = c->gpa_base + c->offset + c->size - 1;
    m->iova = first;
    m->size = last - first + 1;
    m->uaddr = c->ubase + (first - c->offset - c->gpa_base);
    m->perm = VHOST_ACCESS_RW;
    return 1;
}

/* As io.vhost4j.testkit.VirtualIommu: one u64 per 4 KiB IOVA page from `base`, gpa | perm, 0 when unmapped;
 * one page per UPDATE (exact, as QEMU answers a miss), inside guest memory [gpa_base, gpa_base + size). */
struct table_ctx { const volatile uint64_t *table; uint64_t base, pages, gpa_base, size, ubase; };

static int translate_table(const void *p, uint64_t iova, struct vhost_iotlb_msg *m) {
    const struct table_ctx *c = p;
    uint64_t page = (iova - c->base) >> 12;
    if (iova < c->base || page >= c->pages) return 0;
    uint64_t e = c->table[page];
    uint64_t gpa = e & ~0xfffULL;
    if (e == 0 || gpa - c->gpa_base >= c->size) return 0;
    m->iova = iova & ~0xfffULL;
    m->size = 4096;
    m->uaddr = c->ubase + (gpa - c->gpa_base);
    m->perm = (uint8_t) (e & 3);
    return 1;
}

/*
 * Waits until `fd` or `stop_fd` is readable, up to `timeout_ms` (-1: forever, 0: just looks): with one poll() of
 * both when `ep` < 0, else on the epoll set `ep` holding them (stop_fd's data is 1), as a manager of many devices
 * waits. Returns 1 when misses may be queued, 0 to stop, 2 when the timeout passed first, or -errno.
 */
static int wait_ready(int ep, int fd, int stop_fd, int timeout_ms) {
    for (;;) {
        if (ep >= 0) {
            struct epoll_event ev[2];
            int n = epoll_wait(ep, ev, 2, timeout_ms);
            if (n < 0) {
                if (errno == EINTR) continue;
                return -errno;
            }
            if (n == 0) return 2;
            for (int i = 0; i < n; i++) {
                if (ev[i].data.u32 == 1) return 0;
            }
            return 1;
        }
        struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int n = poll(pfd, 2, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return 2;
        return (pfd[1].revents & POLLIN) ? 0 : 1;
    }
}

/* The duplicate count of the Java manager, for comparison: a miss inside one of the 16 newest answers since the
 * last invalidation (the caller bumps out[4] before each INVALIDATE it writes). Counted, never acted on. */
#define RECENT 16
struct recent { uint64_t first[RECENT], last[RECENT]; int n, next; int64_t epoch; };

static int recent_covers(struct recent *r, const volatile int64_t *epoch, uint64_t iova) {
    int64_t e = *epoch;
    if (e != r->epoch) {
        r->epoch = e;
        r->n = 0;
    }
    for (int i = 0; i < r->n; i++) {
        if (iova >= r->first[i] && iova <= r->last[i]) return 1;
    }
    return 0;
}

static void recent_add(struct recent *r, uint64_t first, uint64_t last) {
    r->first[r->next] = first;
    r->last[r->next] = last;
    r->next = (r->next + 1) % RECENT;
    if (r->n < RECENT) r->n++;
}

/* The loop of serve() on a wait set made (ep) or not (-1); polling for poll_ns after each miss (0: never). */
static int serve_loop(int ep, int fd, int stop_fd, translate_fn translate, const void *ctx, int v2, int64_t poll_ns,
                      int64_t *out, int64_t *samples, int64_t cap) {
    struct vhost_msg_v2 msg;
    struct recent recent = {.epoch = out[4]};
    int64_t last_miss = now_ns() - poll_ns; /* not polling until the first miss */
    out[0] = out[1] = out[2] = out[3] = 0;
    for (;;) {
        int polling = poll_ns > 0 && now_ns() - last_miss < poll_ns;
        int ready = wait_ready(ep, fd, stop_fd, polling ? 0 : -1);
        if (ready <= 0) {
            return ready;
        }
        if (ready == 2) {
            continue;
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
            if (poll_ns > 0) last_miss = t0; /* any MISS read, answered or refused, as the Java manager counts */
            int duplicate = recent_covers(&recent, (const volatile int64_t *) &out[4], msg.iotlb.iova);
            struct vhost_iotlb_msg update = {0};
            if (!translate(ctx, msg.iotlb.iova, &update)) {
                out[2]++;
                continue;
            }
            memset(&msg, 0, sizeof msg);
            msg.type = v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
            msg.iotlb = update;
            msg.iotlb.type = VHOST_IOTLB_UPDATE;
            if (write(fd, &msg, sizeof msg) != (ssize_t) sizeof msg) return -errno;
            int64_t ns = now_ns() - t0;
            if (samples) samples[out[0] % cap] = ns;
            out[0]++;
            out[1] += ns;
            out[3] += duplicate;
            recent_add(&recent, update.iova, update.iova + update.size - 1);
        }
    }
}

/*
 * Serves device-IOTLB misses on vhost fd `fd` until `stop_fd` (an eventfd) is readable: wait (poll, or epoll if
 * `use_epoll`; for `poll_ns` after each miss only looking, without sleeping), read every queued MISS until EAGAIN,
 * translate it, write the UPDATE (v2 if `v2`). out[0] = misses answered, out[1] = sum of their read-to-update
 * nanoseconds, out[2] = misses refused (no mapping); the service time of answered miss i goes to samples[i % cap]
 * when `samples` is not NULL. Returns 0 or -errno.
 */
static int serve(int fd, int stop_fd, int use_epoll, int64_t poll_ns, translate_fn translate, const void *ctx, int v2,
                 int64_t *out, int64_t *samples, int64_t cap) {
    int ep = -1;
    if (use_epoll) {
        struct epoll_event misses = {.events = EPOLLIN, .data.u32 = 0}, stop = {.events = EPOLLIN, .data.u32 = 1};
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &misses) < 0
                || epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &stop) < 0) {
            int e = errno;
            if (ep >= 0) close(ep);
            return -e;
        }
    }
    int rc = serve_loop(ep, fd, stop_fd, translate, ctx, v2, poll_ns, out, samples, cap);
    if (ep >= 0) close(ep);
    return rc;
}

/* The offset vIOMMU (see translate_offset), waiting with epoll if `use_epoll`; out as for serve (5 slots). */
int cbench_serve_misses(int fd, int stop_fd, uint64_t offset, uint64_t gpa_base, uint64_t size, uint64_t ubase,
                        uint64_t granule, int v2, int use_epoll, int64_t poll_ns, int64_t *out) {
    struct offset_ctx c = {offset, gpa_base, size, ubase, granule};
    return serve(fd, stop_fd, use_epoll, poll_ns, translate_offset, &c, v2, out, NULL, 1);
}

/* The page-table vIOMMU (see translate_table), waiting in poll(); out as for serve (5 slots), samples[cap] of
 * service times. */
int cbench_serve_misses_table(int fd, int stop_fd, const uint64_t *table, uint64_t base, uint64_t pages,
                              uint64_t gpa_base, uint64_t size, uint64_t ubase, int v2, int64_t poll_ns,
                              int64_t *out, int64_t *samples, int64_t cap) {
    struct table_ctx c = {table, base, pages, gpa_base, size, ubase};
    return serve(fd, stop_fd, 0, poll_ns, translate_table, &c, v2, out, samples, cap);
}
