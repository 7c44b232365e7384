package io.kvserve.kvcache.prefix;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which salt a tenant's prefix blocks are hashed with. By default every tenant is its own salt, so a
 * tenant never hits another tenant's pages: a hit is faster than a miss, and vLLM had to add salts
 * after that timing difference let one tenant probe another's prompts (CVE-2025-46570). Tenants
 * configured into one sharing group get the group's salt and share each other's prefixes.
 */
public final class TenantSalts {
    private final Map<String, String> groupOf;

    private TenantSalts(Map<String, String> groupOf) {
        this.groupOf = Map.copyOf(groupOf);
    }

    /** Every tenant alone. */
    public static TenantSalts isolated() {
        return new TenantSalts(Map.of());
    }

    /**
     * Tenants that share within each group, e.g. {@code [[a, b], [c, d, e]]}; a tenant may be in one
     * group only. Tenants in no group stay alone.
     */
    public static TenantSalts sharingGroups(List<List<String>> groups) {
        Map<String, String> m = new HashMap<>();
        for (int g = 0; g < groups.size(); g++) {
            List<String> group = groups.get(g);
            if (group.size() < 2) throw new IllegalArgumentException("a prefix-cache sharing group needs at least two tenants, got " + group);
            for (String t : group) {
                Objects.requireNonNull(t, "tenant");
                String prev = m.put(t, "group#" + g);
                if (prev != null) throw new IllegalArgumentException("tenant '" + t + "' is in two prefix-cache sharing groups: give each tenant one group");
            }
        }
        return new TenantSalts(m);
    }

    /** The salt of {@code tenant}'s blocks; distinct prefixes keep a tenant named "group#0" apart from group 0. */
    public String salt(String tenant) {
        String t = tenant == null ? "" : tenant;
        String g = groupOf.get(t);
        return g != null ? "g:" + g : "t:" + t;
    }
}
