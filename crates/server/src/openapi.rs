//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.

use serde_json::{json, Value};

fn get(summary: &str, params: Value, schema: &str) -> Value {
    json!({"get": {"summary": summary, "parameters": params, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
        "400": {"description": "Bad query parameter; the body names it."}
    }}})
}

pub fn document() -> Value {
    let q = |name: &str, ty: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}, "description": desc});
    let num = json!({"type": "number"});
    let str_ = json!({"type": "string"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "citybrain API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Live traffic state, history, signals, sensors and ingestion of observations."},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/network": get("Road network as GeoJSON (local metres)", json!([]), "FeatureCollection"),
            "/state": get("Live city, road and intersection state", json!([]), "LiveState"),
            "/history": get("History of a scope over a window", json!([
                q("scope", "string", "city | road:ID | area:ID"), q("from", "number", "seconds"),
                q("to", "number", "seconds"), q("resolution", "number", "seconds per point (>= 1)")]), "HistoryResponse"),
            "/snapshot": get("Stored state snapshot nearest to time t (replay)", json!([q("t", "number", "seconds")]), "LiveState"),
            "/signals/events": {"get": {"summary": "ATSPM hi-res event log of one controller as CSV (TimeStamp,DeviceId,EventId,Parameter)",
                "parameters": [q("intersection", "string", "intersection id"), q("from", "number", "seconds"), q("to", "number", "seconds")],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": {"description": "Unknown intersection"}}}},
            "/signals": get("Current phase and plan of every signal", json!([]), "Object"),
            "/sensors": get("The sensor registry", json!([]), "Object"),
            "/rejected": get("Recently rejected observation records with their errors", json!([]), "Object"),
            "/observations": {"post": {
                "summary": "Ingest a batch of observations; bad records are rejected one by one",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ObservationBatch"}}}},
                "responses": {
                    "200": {"description": "Per-record results; accepted records are committed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResponse"}}}},
                    "503": {"description": "Records validated but storage failed; retry the batch"},
                    "400": {"description": "Malformed JSON"},
                    "413": {"description": "Body too large"}
                }}},
            "/stream": {"get": {"summary": "WebSocket: a snapshot, then state deltas (JSON text frames)",
                                "responses": {"101": {"description": "Switching protocols"}}}}
        },
        "components": {"schemas": {
            "FeatureCollection": {"type": "object"},
            "Object": {"type": "object"},
            "CityKpis": {"type": "object", "properties": {
                "time_s": num, "delay_index": num, "tpi": num, "tpi_grade": str_, "average_speed_kmh": num,
                "vehicles": {"type": "integer"}, "trips_finished": {"type": "integer"}, "congested_share": num}},
            "RoadState": {"type": "object", "properties": {"id": str_, "speed_kmh": num, "tti": num,
                "grade": {"enum": ["free", "slow", "congested"]}}},
            "IntersectionState": {"type": "object", "properties": {"id": str_, "delay_s": num, "queue": {"type": "integer"},
                "phase": {"type": ["integer", "null"]}}},
            "LiveState": {"type": "object", "properties": {
                "city": {"$ref": "#/components/schemas/CityKpis"},
                "roads": {"type": "array", "items": {"$ref": "#/components/schemas/RoadState"}},
                "intersections": {"type": "array", "items": {"$ref": "#/components/schemas/IntersectionState"}}}},
            "HistoryResponse": {"type": "object", "properties": {"scope": str_, "from": num, "to": num, "resolution_s": num,
                "points": {"type": "array", "items": {"type": "object", "properties": {
                    "t": num, "speed_kmh": num, "count": num, "delay_index": num}}}}},
            "ObservationBatch": {"type": "object", "required": ["observations"],
                "properties": {"observations": {"type": "array", "items": {"type": "object",
                    "required": ["sensor", "kind", "time"],
                    "properties": {"sensor": str_, "kind": str_, "time": num}}}}},
            "IngestResponse": {"type": "object", "properties": {
                "accepted": {"type": "integer"}, "rejected": {"type": "integer"},
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "index": {"type": "integer"}, "status": {"enum": ["accepted", "rejected"]}, "error": str_}}}}}
        }}
    })
}
