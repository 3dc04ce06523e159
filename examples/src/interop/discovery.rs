//! Service discovery against Curator's `ServiceDiscovery` (twin:
//! `Discovery.java`): string, map and POJO payloads registered by both
//! sides and read by both.

use super::harness::{Harness, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zk_recipes::{ServiceDiscovery, ServiceInstance, ServicePayload, ServiceType};

/// The Java side's POJO payload class.
const DETAILS_CLASS: &str = "zkrs.interop.InstanceDetails";

/// The twin of `InstanceDetails.java`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct InstanceDetails {
    description: String,
    weight: i32,
}

fn string_payload(side: &str) -> ServicePayload {
    ServicePayload::string(format!("hello from {side}"))
}

fn map_payload(side: &str) -> ServicePayload {
    let map = json!({"side": side, "zone": "eu-1"});
    ServicePayload::map(map.as_object().cloned().unwrap_or_default())
}

fn details(side: &str) -> InstanceDetails {
    InstanceDetails {
        description: format!("{side} details"),
        weight: 3,
    }
}

fn pojo_payload(side: &str) -> ServicePayload {
    ServicePayload::typed(DETAILS_CLASS, &details(side)).expect("serializable")
}

fn instance(name: &str, id: &str, payload: ServicePayload, kind: ServiceType) -> ServiceInstance {
    ServiceInstance::new(name)
        .with_id(id)
        .with_address("10.0.0.7", 8080)
        .with_payload(payload)
        .with_type(kind)
}

/// Whether `got` is what `owner` registered under `name`: the same value,
/// and a type tag a Curator service of that payload type reads (none for a
/// string, a Java map class for a map, the POJO's class for the POJO).
fn payload_matches(name: &str, owner: &str, got: Option<&ServicePayload>) -> bool {
    let Some(got) = got else { return false };
    match name {
        "str" => got == &string_payload(owner),
        "map" => {
            got.java_class()
                .is_some_and(|c| c.starts_with("java.util.") && c.ends_with("Map"))
                && got.value() == map_payload(owner).value()
        }
        _ => {
            got.java_class() == Some(DETAILS_CLASS)
                && got.get::<InstanceDetails>().ok() == Some(details(owner))
        }
    }
}

/// `discovery`.
pub async fn run(h: &Harness, phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&c).await?;
        let d = ServiceDiscovery::new(&c, format!("{root}/app/services"));
        let all = [
            instance(
                "svc",
                "dyn",
                ServicePayload::string("x"),
                ServiceType::Dynamic,
            ),
            instance(
                "svc",
                "static",
                ServicePayload::string("x"),
                ServiceType::Static,
            ),
            instance(
                "svc",
                "perm",
                ServicePayload::string("x"),
                ServiceType::Permanent,
            ),
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
    for name in ["str", "map", "pojo"] {
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
            h.check(payload_matches(name, owner, i.payload.as_ref()), || {
                format!("{name} payload of {} is {:?}", i.id, i.payload)
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
