//! Item affinity: item-item similarity, implicit matrix factorisation, popularity and buy-again.
