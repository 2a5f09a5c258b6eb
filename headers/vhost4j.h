/*
 * Umbrella header jextract reads to generate io.vhost4j.internal.gen (see native/regenerate-bindings.sh).
 * headers/linux/ holds uapi headers copied verbatim from Debian's linux-libc-dev: vhost.h, vhost_types.h, vduse.h
 * and vdpa.h from 6.12.118 (Debian 13: every vhost-vdpa ioctl up to GET_VRING_SIZE), the virtio/tun/vsock ones
 * from 6.1 (Debian 12), so the generated ABI does not depend on the machine that regenerates it; the rest
 * (netlink, sockets, libc) comes from the system.
 */
#include <linux/vhost.h>
#include <linux/vduse.h>
#include <linux/vdpa.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <linux/virtio_ids.h>
#include <linux/memfd.h>
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
