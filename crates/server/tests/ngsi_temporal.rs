//! The NGSI-LD temporal API over real HTTP on a real SQLite history: aggregation,
//! the 206 / `Content-Range` cut of large representations, the simplified form of every
//! attribute type, 404 when nothing is left to answer, deletion by datasetId, a query's
//! time window, and hostile parameters answered 400.

mod common;
mod ngsi_kit;

use ngsi_kit::{call, json, problem, world, JSON};
use serde_json::{json, Value};

const E: &str = "/ngsi-ld/v1/temporal/entities";

fn create(a: std::net::SocketAddr, body: Value) {
    let (s, _, b) = call(a, "POST", E, &[JSON], &body.to_string());
    assert_eq!(s, 201, "{b}");
}

fn get(a: std::net::SocketAddr, path: &str) -> (u16, String, Value) {
    let (s, h, b) = call(a, "GET", path, &[], "");
    (s, h, serde_json::from_str(&b).unwrap_or(Value::Null))
}

fn series(values: &[(f64, &str)]) -> Value {
    Value::Array(values.iter().map(|(v, t)| json!({"type": "Property", "value": v, "observedAt": t})).collect())
}

#[test]
fn aggregated_values_by_period_and_bad_aggregation_parameters() {
    let w = world("temporal-aggr", 1000);
    let a = w.addr;
    create(
        a,
        json!({"id": "urn:ngsi-ld:Vehicle:V1", "type": "Vehicle",
            "speed": series(&[(120.0, "2020-08-01T12:03:00Z"), (80.0, "2020-08-01T12:05:00Z"), (100.0, "2020-08-01T12:07:00Z")]),
            "fuelLevel": series(&[(67.0, "2020-08-01T12:03:00Z"), (53.0, "2020-08-01T13:05:00Z"), (40.0, "2020-08-01T14:07:00Z")])}),
    );
    let (s, _, v) =
        get(a, &format!("{E}/urn:ngsi-ld:Vehicle:V1?options=aggregatedValues&aggrMethods=avg,max&aggrPeriodDuration=PT1H"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["speed"]["type"], "Property");
    assert_eq!(v["speed"]["avg"], json!([[100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]), "{v}");
    assert_eq!(v["speed"]["max"], json!([[120.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]));
    assert_eq!(v["fuelLevel"]["avg"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v["fuelLevel"]["avg"][2], json!([40.0, "2020-08-01T14:03:00Z", "2020-08-01T15:03:00Z"]));
    let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:V1?options=aggregatedValues&aggrMethods=min,totalCount&aggrPeriodDuration=P1D&attrs=fuelLevel"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["fuelLevel"]["min"], json!([[40.0, "2020-08-01T12:03:00Z", "2020-08-02T12:03:00Z"]]), "{v}");
    assert_eq!(v["fuelLevel"]["totalCount"][0][0], 3);
    assert!(v.get("speed").is_none(), "{v}");
    for q in [
        "options=aggregatedValues",
        "options=aggregatedValues&aggrMethods=median",
        "options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=1H",
        "options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=-P1D",
        "options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=P999999999999Y",
    ] {
        let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:V1?{q}"));
        assert_eq!(s, 400, "{q}: {v}");
    }
}

#[test]
fn large_representations_are_cut_in_time_with_a_content_range() {
    // At most 5 instances per entity in one answer.
    let w = world("temporal-page", 5);
    let a = w.addr;
    let times: Vec<String> = (1..=6).map(|m| format!("2020-01-01T01:0{m}:00Z")).collect();
    let pts: Vec<(f64, &str)> = times.iter().enumerate().map(|(i, t)| (i as f64, t.as_str())).collect();
    create(a, json!({"id": "urn:ngsi-ld:Vehicle:P1", "type": "Vehicle", "speed": series(&pts), "fuelLevel": series(&pts)}));

    // 12 instances: the earliest first, cut after the 5th instance's time (every instance
    // at that time kept: 6).
    let (s, h, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:P1"));
    assert_eq!(s, 206, "{v}");
    assert!(h.contains("content-range: date-time 2020-01-01t01:01:00z-2020-01-01t01:03:00z/*"), "{h}");
    assert_eq!(v["speed"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v["fuelLevel"].as_array().map(Vec::len), Some(3), "{v}");

    // The rest from the cut on, with the client's timeAt as the range's start.
    let (s, h, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:P1?timerel=after&timeAt=2020-01-01T01:04:00Z"));
    assert_eq!(s, 200, "{h} {v}");
    assert_eq!(v["speed"].as_array().map(Vec::len), Some(3), "{v}");

    // lastN: the latest first, the size is lastN; a between window starts at its end.
    let (s, h, v) = get(
        a,
        &format!("{E}/urn:ngsi-ld:Vehicle:P1?lastN=4&timerel=between&timeAt=2019-01-01T00:00:00Z&endTimeAt=2021-01-01T00:00:00Z"),
    );
    assert_eq!(s, 206, "{v}");
    assert!(h.contains("content-range: date-time 2021-01-01t00:00:00z-2020-01-01t01:04:00z/4"), "{h}");
    assert_eq!(v["speed"][0]["observedAt"], "2020-01-01T01:04:00Z", "instances stay oldest first: {v}");
    assert_eq!(v["speed"].as_array().map(Vec::len), Some(3), "{v}");

    // Within the cap, a full lastN page (older instances behind it): 206, its range from
    // the newest to the oldest instance given, size lastN.
    let (s, h, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:P1?lastN=2"));
    assert_eq!(s, 206, "{v}");
    assert!(h.contains("content-range: date-time 2020-01-01t01:06:00z-2020-01-01t01:05:00z/2"), "{h}");
    assert_eq!(v["speed"][1]["value"], 5.0, "{v}");
    // A lastN longer than the window's history: all of it, 200, no Content-Range.
    let (s, h, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:P1?lastN=4&attrs=speed&timerel=before&timeAt=2020-01-01T01:04:00Z"));
    assert_eq!(s, 200, "{v}");
    assert!(!h.contains("content-range"), "{h}");
    assert_eq!(v["speed"].as_array().map(Vec::len), Some(3), "{v}");

    // A query is cut per entity too.
    let (s, h, v) = get(a, &format!("{E}?type=Vehicle&temporalValues=true&options=temporalValues"));
    assert_eq!(s, 400, "temporalValues is an option, not a parameter: {v} {h}");
    let (s, h, v) = get(a, &format!("{E}?type=Vehicle&options=temporalValues"));
    assert_eq!(s, 206, "{v}");
    assert!(h.contains("content-range: date-time"), "{h}");
    assert_eq!(v[0]["speed"]["values"].as_array().map(Vec::len), Some(3), "{v}");
}

#[test]
fn simplified_values_of_each_attribute_type_and_nothing_left_is_404() {
    let w = world("temporal-simple", 1000);
    let a = w.addr;
    create(
        a,
        json!({"id": "urn:ngsi-ld:Building:T1", "type": "Building",
            "doc": [{"type": "JsonProperty", "json": {"v": 1}, "observedAt": "2020-08-01T12:03:00Z"}],
            "kind": [{"type": "VocabProperty", "vocab": "monument", "observedAt": "2020-08-01T12:03:00Z"}],
            "street": [{"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"}, "observedAt": "2020-08-01T12:03:00Z"}],
            "in": [{"type": "Relationship", "object": "urn:ngsi-ld:City:Paris", "observedAt": "2020-08-01T12:03:00Z"}]}),
    );
    let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Building:T1?options=temporalValues"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["doc"], json!({"type": "JsonProperty", "jsons": [[{"json": {"v": 1}}, "2020-08-01T12:03:00Z"]]}));
    assert_eq!(v["kind"], json!({"type": "VocabProperty", "vocabs": [[{"vocab": "monument"}, "2020-08-01T12:03:00Z"]]}));
    assert_eq!(v["street"]["languageMaps"][0][0], json!({"languageMap": {"fr": "Grand Place"}}));
    assert_eq!(v["in"]["objects"][0][0], "urn:ngsi-ld:City:Paris");
    for q in ["attrs=unknownAttribute", "pick=unknown", "omit=id,type,doc,kind,street,in"] {
        let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Building:T1?{q}"));
        assert_eq!(
            (s, v["type"].as_str().unwrap_or("")),
            (404, "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"),
            "{q}: {v}"
        );
    }
    let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Building:T1?pick=doc"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_object().map(|m| m.len()), Some(1), "{v}");

    // One simplified object per datasetId; `format` wins over `options`.
    create(
        a,
        json!({"id": "urn:ngsi-ld:Vehicle:T2", "type": "Vehicle",
            "speed": [{"type": "Property", "value": 1, "observedAt": "2020-08-01T12:03:00Z"},
                      {"type": "Property", "value": 2, "observedAt": "2020-08-01T12:04:00Z", "datasetId": "urn:ngsi-ld:Dataset:b"}]}),
    );
    let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:T2?format=temporalValues&options=aggregatedValues&aggrMethods=sum"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["speed"],
        json!([{"type": "Property", "values": [[1, "2020-08-01T12:03:00Z"]]},
               {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:b", "values": [[2, "2020-08-01T12:04:00Z"]]}]),
        "{v}"
    );
    let (s, _, v) = get(a, &format!("{E}/urn:ngsi-ld:Vehicle:T2?datasetId=urn:ngsi-ld:Dataset:b&options=temporalValues"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["speed"]["datasetId"], "urn:ngsi-ld:Dataset:b", "{v}");
    // A query picking only `id` still lists the entities with instances in the window.
    let (s, _, v) = get(a, &format!("{E}?type=Vehicle&timerel=after&timeAt=2020-01-01T00:00:00Z&pick=id"));
    assert_eq!((s, v), (200, json!([{"id": "urn:ngsi-ld:Vehicle:T2"}])));
}

#[test]
fn deleting_an_attribute_by_dataset_and_all_of_it() {
    let w = world("temporal-delete", 1000);
    let a = w.addr;
    let fuel = json!([{"type": "Property", "value": 67, "observedAt": "2020-09-01T12:03:00Z"},
                      {"type": "Property", "value": 53, "observedAt": "2020-09-01T13:05:00Z"},
                      {"type": "Property", "value": 40, "observedAt": "2020-09-01T14:07:00Z", "datasetId": "urn:ngsi-ld:Dataset:f"}]);
    for id in ["urn:ngsi-ld:Vehicle:D1", "urn:ngsi-ld:Vehicle:D2", "urn:ngsi-ld:Vehicle:D3"] {
        create(a, json!({"id": id, "type": "Vehicle", "fuelLevel": fuel, "speed": series(&[(1.0, "2020-09-01T12:03:00Z")])}));
    }
    let values = |id: &str| -> Vec<Value> {
        let (_, _, v) = get(a, &format!("{E}/{id}"));
        v["fuelLevel"].as_array().map(|l| l.iter().map(|x| x["value"].clone()).collect()).unwrap_or_default()
    };
    let del = |id: &str, q: &str| call(a, "DELETE", &format!("{E}/{id}/attrs/fuelLevel{q}"), &[], "").0;
    assert_eq!(del("urn:ngsi-ld:Vehicle:D1", ""), 204);
    assert_eq!(values("urn:ngsi-ld:Vehicle:D1"), vec![json!(40)], "the default instance's history goes");
    assert_eq!(del("urn:ngsi-ld:Vehicle:D2", "?datasetId=urn:ngsi-ld:Dataset:f"), 204);
    assert_eq!(values("urn:ngsi-ld:Vehicle:D2"), vec![json!(67), json!(53)]);
    assert_eq!(del("urn:ngsi-ld:Vehicle:D2", "?datasetId=urn:ngsi-ld:Dataset:f"), 404, "nothing left of that dataset");
    assert_eq!(del("urn:ngsi-ld:Vehicle:D3", "?deleteAll=true"), 204);
    assert!(values("urn:ngsi-ld:Vehicle:D3").is_empty());
    // The current state follows: the entity API no longer has the instance.
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:D2", &[], "");
    assert_eq!(s, 200);
    assert!(json(&b)["fuelLevel"].get("datasetId").is_none(), "{b}");
}

#[test]
fn query_windows_leave_out_entities_without_instances_and_hostile_input_is_400() {
    let w = world("temporal-hostile", 1000);
    let a = w.addr;
    create(a, json!({"id": "urn:ngsi-ld:Vehicle:A", "type": "Vehicle", "speed": series(&[(1.0, "2020-08-01T12:00:00Z")])}));
    create(a, json!({"id": "urn:ngsi-ld:Vehicle:B", "type": "Vehicle", "speed": series(&[(2.0, "2020-09-01T12:00:00Z")])}));
    let (s, h, v) = get(a, &format!("{E}?type=Vehicle&timerel=after&timeAt=2020-08-15T00:00:00Z&count=true"));
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v.as_array().expect("list").iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["urn:ngsi-ld:Vehicle:B"]);
    assert!(h.contains("ngsild-results-count: 1"), "{h}");
    let id = "urn:ngsi-ld:Vehicle:A";
    for q in [
        "timerel=after&timeAt=99999-01-01T00:00:00Z",
        "timerel=after&timeAt=yesterday",
        "timerel=between&timeAt=2021-01-01T00:00:00Z&endTimeAt=2020-01-01T00:00:00Z",
        "timerel=before",
        "timerel=sideways&timeAt=2020-01-01T00:00:00Z",
        "lastN=0",
        "lastN=-3",
        "lastN=999999999999999999999999999",
    ] {
        let (s, _, v) = get(a, &format!("{E}/{id}?{q}"));
        assert_eq!((s, v["type"].as_str().map(|t| t.ends_with("BadRequestData"))), (400, Some(true)), "{q}: {v}");
    }
    let (s, _, v) = get(a, &format!("{E}/{id}?lastN=18446744073709551615"));
    assert_eq!(s, 200, "a huge lastN is all of them: {v}");
    let inst = format!("{E}/{id}/attrs/speed/");
    for (m, p) in [
        ("DELETE", format!("{inst}invalidId")),
        ("PATCH", format!("{inst}invalidId")),
        ("DELETE", format!("{E}/{id}/attrs/invalid(Name/urn:ngsi-ld:attribute:instance:1")),
        ("DELETE", format!("{E}/{id}/attrs/invalid(Name")),
    ] {
        let (s, _, b) = call(a, m, &p, &[JSON], r#"{"speed": {"type": "Property", "value": 3}}"#);
        assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"), "{m} {p}: {b}");
    }
    let (s, _, b) = call(a, "DELETE", &format!("{inst}urn:ngsi-ld:attribute:instance:999999"), &[], "");
    assert_eq!(s, 404, "{b}");
}
