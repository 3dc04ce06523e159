package zkrs.interop;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;

/**
 * Service discovery with string, map and POJO payloads, registered by both sides and read by both: each
 * side checks every instance of the other side (payload value and type) through Curator's own reader.
 */
final class Discovery {
    private Discovery() {}

    static <T> ServiceDiscovery<T> discovery(CuratorFramework c, String base, Class<T> payload) throws Exception {
        ServiceDiscovery<T> d = ServiceDiscoveryBuilder.builder(payload)
                .client(c)
                .basePath(base)
                .serializer(new JsonInstanceSerializer<>(payload))
                .build();
        d.start();
        return d;
    }

    static String stringPayload(String side) {
        return "hello from " + side;
    }

    static Map<String, String> mapPayload(String side) {
        Map<String, String> m = new HashMap<>();
        m.put("side", side);
        m.put("zone", "eu-1");
        return m;
    }

    static InstanceDetails pojoPayload(String side) {
        return new InstanceDetails(side + " details", 3);
    }

    static <T> ServiceInstance<T> instance(String name, String id, T payload, ServiceType type) throws Exception {
        return ServiceInstance.<T>builder()
                .name(name)
                .id(id)
                .address("10.0.0.7")
                .port(8080)
                .payload(payload)
                .serviceType(type)
                .build();
    }

    static void run(Harness h, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(c);
            ServiceDiscovery<String> d = discovery(c, root + "/app/services", String.class);
            d.registerService(instance("svc", "dyn", "x", ServiceType.DYNAMIC));
            d.registerService(instance("svc", "static", "x", ServiceType.STATIC));
            d.registerService(instance("svc", "perm", "x", ServiceType.PERMANENT));
            h.dump(c, root);
            d.close();
            h.dumpAfterReaping(c, root);
            return;
        }
        String base = h.path("services");
        @SuppressWarnings("rawtypes")
        ServiceDiscovery<Map> maps = discovery(c, base, Map.class);
        ServiceDiscovery<String> strings = discovery(c, base, String.class);
        ServiceDiscovery<InstanceDetails> pojos = discovery(c, base, InstanceDetails.class);
        strings.registerService(instance("str", h.side + "-str", stringPayload(h.side), ServiceType.DYNAMIC));
        maps.registerService(instance("map", h.side + "-map", mapPayload(h.side), ServiceType.DYNAMIC));
        pojos.registerService(instance("pojo", h.side + "-pojo", pojoPayload(h.side), ServiceType.DYNAMIC));
        h.gate(c, "registered");

        for (ServiceInstance<String> i : query(h, strings, "str")) {
            String owner = owner(i);
            h.check(stringPayload(owner).equals(i.getPayload()), "str payload of " + i.getId() + " is " + i.getPayload());
        }
        @SuppressWarnings("rawtypes")
        Collection<ServiceInstance<Map>> mapInstances = query(h, maps, "map");
        for (@SuppressWarnings("rawtypes") ServiceInstance<Map> i : mapInstances) {
            String owner = owner(i);
            h.check(mapPayload(owner).equals(i.getPayload()), "map payload of " + i.getId() + " is " + i.getPayload());
        }
        for (ServiceInstance<InstanceDetails> i : query(h, pojos, "pojo")) {
            String owner = owner(i);
            Object payload = i.getPayload();
            h.check(payload instanceof InstanceDetails && pojoPayload(owner).equals(payload),
                    "pojo payload of " + i.getId() + " is " + payload);
        }
        // What Curator writes, for the record.
        byte[] raw = c.getData().forPath(base + "/pojo/" + h.side + "-pojo");
        System.out.println("INFO curator pojo instance: " + new String(raw, StandardCharsets.UTF_8));
        h.gate(c, "checked");
        strings.close();
        maps.close();
        pojos.close();
    }

    static String owner(ServiceInstance<?> i) {
        return i.getId().substring(0, i.getId().lastIndexOf('-'));
    }

    static <T> Collection<ServiceInstance<T>> query(Harness h, ServiceDiscovery<T> d, String name) throws Exception {
        Collection<ServiceInstance<T>> all;
        try {
            all = d.queryForInstances(name);
        } catch (Exception e) {
            h.violation("queryForInstances(" + name + ") failed: " + e);
            return java.util.List.of();
        }
        h.check(all.size() == h.peers, name + ": " + all.size() + " instances, expected " + h.peers);
        for (ServiceInstance<T> i : all) {
            h.check("10.0.0.7".equals(i.getAddress()) && Integer.valueOf(8080).equals(i.getPort()),
                    i.getId() + " has address " + i.getAddress() + ":" + i.getPort());
        }
        return all;
    }
}
