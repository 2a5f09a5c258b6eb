/*
 * Umbrella header jextract reads to generate io.vhost4j.internal.gen (see native/regenerate-bindings.sh).
 * headers/linux/ holds the vhost/virtio/tun/vsock uapi headers from linux-libc-dev 6.1 (Debian 12), so the
 * generated ABI does not depend on the machine that regenerates it; the rest comes from the system.
 */
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>
#include <linux/if_tun.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <poll.h>
#include <errno.h>
