"""TensorFlow's CPU thread pools, set from the config before the runtime starts.

On a shared server the default (every core) competes with other users' jobs; pinning the pools
keeps a queue to its share. TensorFlow accepts the setting only before its first operation.
"""

from __future__ import annotations


def apply_thread_settings(intra_op: int, inter_op: int) -> str | None:
    """Set the pools (0 keeps TensorFlow's choice); a message when it is too late to change them."""
    if not intra_op and not inter_op:
        return None
    import tensorflow as tf

    threading = tf.config.threading
    if (
        threading.get_intra_op_parallelism_threads() == intra_op
        and threading.get_inter_op_parallelism_threads() == inter_op
    ):
        return None
    try:
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:
        return (
            f"intra_op_threads = {intra_op}, inter_op_threads = {inter_op} not applied: TensorFlow was already "
            "running in this process; they take effect in a fresh one"
        )
    return None
