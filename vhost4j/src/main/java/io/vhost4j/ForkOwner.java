package io.vhost4j;

/**
 * Whose child the device's worker is ({@code VHOST_SET/GET_FORK_FROM_OWNER}, kernels built with
 * {@code CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL}).
 */
public enum ForkOwner {
    /** A kernel thread ({@code VHOST_FORK_OWNER_KTHREAD}, 0): the behaviour before 6.4. */
    KTHREAD,
    /** A task forked from the owner ({@code VHOST_FORK_OWNER_TASK}, 1): the default since 6.4. */
    TASK
}
