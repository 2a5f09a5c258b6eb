/**
 * The vDPA bus from both sides: the userspace device side (VDUSE: {@link io.vhost4j.vdpa.VduseControl},
 * {@link io.vhost4j.vdpa.VduseDevice}), and management ({@link io.vhost4j.vdpa.VdpaManagement}, the generic
 * netlink family "vdpa"; {@link io.vhost4j.vdpa.VdpaBus}, which driver a device is bound to). The VMM side is
 * {@link io.vhost4j.VhostVdpa}.
 */
package io.vhost4j.vdpa;
