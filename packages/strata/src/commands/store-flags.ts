/** Where the layer store is, when --store does not say. */
export const STORE_DEFAULT = `the layer store: --store DIR, else $STRATA_STORE,
else /var/lib/strata (root) or $XDG_DATA_HOME/strata (~/.local/share/strata)`;
