//! Service discovery against Curator's `ServiceDiscovery` (twin:
//! `Discovery.java`): string, map and POJO payloads registered by both
//! sides and read by both.

use super::harness::{Harness, Result};
use serde_json::{json, Value};
use zk_recipes::{ServiceDiscovery, ServiceInstance, ServiceType};

fn string_payload(side: &str) -> Value {
    Value::String(format!("hello from {side}"))
}

fn map_payload(side: &str) -> Value {
    json!({"side": side, "zone": "eu-1"})
}

fn pojo_payload(side: &str) -> Value {
    json!({"description": format!("{side} details"), "weight": 3})
}

fn instance(name: &str, id: &str, payload: Value, kind: ServiceType) -> ServiceInstance {
    ServiceInstance::new(name)
        .with_id(id)
        .with_address("10.0.0.7", 8080)
        .with_payload(payload)
        .with_type(kind)
}

/// `discovery`.
pub async fn run(h: &Harness, phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&c).await?;
        let d = ServiceDiscovery::new(&c, format!("{root}/app/services"));
        let all = [
            instance("svc", "dyn", json!("x"), ServiceType::Dynamic),
            instance("svc", "static", json!("x"), ServiceType::Static),
            instance("svc", "perm", json!("x"), ServiceType::Permanent),
        ];
        for i in &all {
            d.register(i).await?;
        }
        h.dump(&c, &root).await?;
        for i in &all {
            d.unregister(i).await?;
        }
        return h.dump_after_reaping(&c, &root).await;
    }
    let d = ServiceDiscovery::new(&c, h.path("services"));
    let side = h.side.as_str();
    let mine = [
        instance(
            "str",
            &format!("{side}-str"),
            string_payload(side),
            ServiceType::Dynamic,
        ),
        instance(
            "map",
            &format!("{side}-map"),
            map_payload(side),
            ServiceType::Dynamic,
        ),
        instance(
            "pojo",
            &format!("{side}-pojo"),
            pojo_payload(side),
            ServiceType::Dynamic,
        ),
    ];
    for i in &mine {
        d.register(i).await?;
    }
    h.gate(&c, "registered").await?;
    for (name, expected) in [
        ("str", string_payload as fn(&str) -> Value),
        ("map", map_payload),
        ("pojo", pojo_payload),
    ] {
        let all = d.instances(name).await?;
        h.check(all.len() == h.peers, || {
            format!("{name}: {} instances, expected {}", all.len(), h.peers)
        });
        for i in &all {
            let owner = &i.id[..i.id.rfind('-').unwrap_or(0)];
            h.check(
                i.address.as_deref() == Some("10.0.0.7") && i.port == Some(8080),
                || format!("{} has address {:?}:{:?}", i.id, i.address, i.port),
            );
            let want = expected(owner);
            h.check(i.payload.as_ref() == Some(&want), || {
                format!(
                    "{name} payload of {} is {:?}, expected {want}",
                    i.id, i.payload
                )
            });
        }
    }
    let (raw, _) = c
        .get_data(&h.path(&format!("services/pojo/{side}-pojo")))
        .await?;
    println!("INFO rust pojo instance: {}", String::from_utf8_lossy(&raw));
    h.gate(&c, "checked").await?;
    for i in &mine {
        d.unregister(i).await?;
    }
    Ok(())
}
