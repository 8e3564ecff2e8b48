"""The first stage's unperturbed product z1 = W_1 x + b_1, shared by the shortcut paths:
formed for the samples due before theta next changes in one pass over W_1
(hwsim.kernels.parallel_rows.first_product) and reused while x and theta stay."""

from numba import njit

from hwsim.kernels.parallel_rows import first_product


@njit(cache=True, inline="always")
def first_stage_product(cfg, cnt, net, data, st, scratch, chunks, w, n, old_weights):
    """z1 for step n's sample into ``st.z1``."""
    s = n // cfg.tau_x
    s_end = s + 1
    version = -1                    # theta may change between updates: no reuse
    if cfg.blocking and not old_weights and not cfg.drift:
        version = cnt.updates
        s_end = min((((n // cfg.tau_theta) + 1) * cfg.tau_theta + cfg.tau_x - 1) // cfg.tau_x,
                    (s // cfg.n_samples + 1) * cfg.n_samples)
    first_product(net, chunks, w, data.X, st.order, s, s_end, version, scratch.zbatch, scratch.zmeta,
                  scratch.zidx, st.z1)
