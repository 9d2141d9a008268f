//! The OpenAPI 3.1 description of the API (`GET /openapi.json`) and a self-contained docs page (`GET /docs`,
//! no external scripts) that renders it. Written by hand to keep the build light; a test checks that every
//! registered route is described.

use serde_json::{Value, json};

use super::routes;

fn key_param() -> Value {
    json!({ "name": "key", "in": "path", "required": true, "schema": { "type": "string" },
            "description": "Unified customer ID (C + 14 hex digits) or source-qualified key such as web:10342" })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

fn responses(ok: &str, errors: &[u16]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("200".into(), json!({ "description": ok }));
    for code in errors {
        let description = match code {
            400 => "Bad parameter",
            401 => "Missing or unknown API key",
            403 => "The key lacks the scope",
            404 => "Unknown customer or item",
            413 => "Body too large",
            415 => "Body is not JSON",
            422 => "Bundle rejected; the previous model keeps serving",
            _ => "No model loaded yet",
        };
        map.insert(
            code.to_string(),
            json!({ "description": description,
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    Value::Object(map)
}

fn op(summary: &str, scopes: &[&str], params: Vec<Value>, resp: Value) -> Value {
    let mut o = json!({ "summary": summary, "parameters": params, "responses": resp });
    if !scopes.is_empty() {
        o["security"] = json!([{ "apiKey": [] }, { "bearer": [] }]);
        o["x-scopes"] = json!(scopes);
    }
    o
}

/// The OpenAPI document.
pub fn document() -> Value {
    let k = query(
        "k",
        json!({ "type": "integer", "minimum": 1 }),
        "How many items (default 10, capped at the configured maximum)",
    );
    let category = query("category", json!({ "type": "string" }), "Only items of this category");
    let exclude = query("exclude", json!({ "type": "string" }), "Comma-separated item IDs never to recommend");
    let crm = ["crm"];
    let shop = ["storefront", "crm"];
    let any = ["storefront", "crm", "admin"];
    let mut paths = serde_json::Map::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        let openapi_path = path.to_owned();
        let entry = paths.entry(openapi_path).or_insert_with(|| json!({}));
        entry[method] = operation;
    };
    add(routes::HEALTHZ, "get", op("Liveness", &[], vec![], responses("Alive", &[])));
    add(routes::READYZ, "get", op("Readiness: a model is loaded", &[], vec![], responses("Ready", &[503])));
    add(routes::METRICS, "get", op("Prometheus metrics", &[], vec![], responses("Prometheus text", &[])));
    add(routes::OPENAPI, "get", op("This document", &[], vec![], responses("OpenAPI 3.1", &[])));
    add(routes::DOCS, "get", op("Human-readable API docs", &[], vec![], responses("HTML", &[])));
    add(
        routes::CUSTOMER,
        "get",
        op(
            "Unified profile with churn, timing and recommendations",
            &crm,
            vec![key_param()],
            responses("Profile", &[400, 401, 403, 404, 503]),
        ),
    );
    add(
        routes::CHURN,
        "get",
        op(
            "Churn probability, risk band, reasons, p_alive",
            &crm,
            vec![key_param()],
            responses("Churn score", &[400, 401, 403, 404, 503]),
        ),
    );
    add(
        routes::CUSTOMER_RECS,
        "get",
        op(
            "Recommendations; customers the model has never seen get the popularity or segment fallback (marked in `fallback`)",
            &shop,
            vec![key_param(), k.clone(), category.clone(), exclude.clone()],
            responses("Items with score and reason", &[400, 401, 403, 503]),
        ),
    );
    add(
        routes::TIMING,
        "get",
        op(
            "Next purchase date, send window, urgency, expected purchases",
            &crm,
            vec![key_param()],
            responses("Timing", &[400, 401, 403, 404, 503]),
        ),
    );
    add(
        routes::SIMILAR,
        "get",
        op(
            "Items most similar to an item",
            &shop,
            vec![
                json!({ "name": "item", "in": "path", "required": true, "schema": { "type": "string" } }),
                k,
                category,
                exclude,
            ],
            responses("Similar items", &[400, 401, 403, 404, 503]),
        ),
    );
    let mut basket = op(
        "Recommendations for a basket (anonymous carts), optionally for a customer",
        &shop,
        vec![],
        responses("Items with score and reason", &[400, 401, 403, 413, 415, 503]),
    );
    basket["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "object", "additionalProperties": false,
        "properties": {
            "items": { "type": "array", "items": { "type": "string" } },
            "customer": { "type": "string" },
            "k": { "type": "integer", "minimum": 1 },
            "category": { "type": "string" },
            "exclude": { "type": "array", "items": { "type": "string" } } } } } } });
    add(routes::BASKET_RECS, "post", basket);
    add(
        routes::AT_RISK,
        "get",
        op(
            "Customers ranked by value at risk; cursor-paginated JSON, or the whole list as CSV with Accept: text/csv or format=csv",
            &crm,
            vec![
                query(
                    "min_probability",
                    json!({ "type": "number", "minimum": 0, "maximum": 1 }),
                    "Minimum churn probability",
                ),
                query(
                    "tag",
                    json!({ "type": "string" }),
                    "Profile tag: `vip` (flag true, or any value) or `member_tier:gold`",
                ),
                query("limit", json!({ "type": "integer", "minimum": 1 }), "Page size (default 100, capped)"),
                query("cursor", json!({ "type": "string" }), "next_cursor of the previous page (same filters)"),
                query("format", json!({ "type": "string", "enum": ["json", "csv"] }), "Response format"),
            ],
            responses("A page (JSON) or the whole list (CSV)", &[400, 401, 403, 503]),
        ),
    );
    add(routes::TAGS, "get", op("The tag dictionary", &any, vec![], responses("Tags", &[401, 503])));
    add(
        routes::MODELS,
        "get",
        op("The active bundle: version, as-of date, metrics", &any, vec![], responses("Model", &[401, 503])),
    );
    let mut reload = op(
        "Load a bundle and swap it in atomically",
        &["admin"],
        vec![],
        responses("Swapped", &[400, 401, 403, 413, 422]),
    );
    reload["requestBody"] = json!({ "required": false, "content": { "application/json": { "schema": {
        "type": "object", "properties": { "path": { "type": "string", "description": "Bundle file; the configured one when absent" } } } } } });
    add(routes::RELOAD, "post", reload);

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tagcenter",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Unified customer profiles, churn risk, recommendations and promotion timing. Scopes: storefront (recommendations, similar items), crm (profiles, scores, at-risk lists), admin (reload). Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
                "bearer": { "type": "http", "scheme": "bearer" }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } }
            }
        }
    })
}

/// The docs page: renders `/openapi.json` with a few lines of inline script.
pub const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tagcenter API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .3em}.op{border-top:1px solid #ddd;padding:.6rem 0}
.m{font-weight:bold;text-transform:uppercase;margin-right:.5em}.s{color:#666;font-size:.9em}</style></head>
<body><h1>tagcenter API</h1><p id="d"></p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('d').textContent = doc.info.description;
  const ops = document.getElementById('ops'); ops.textContent = '';
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const div = document.createElement('div'); div.className = 'op';
      const head = document.createElement('div');
      const m = document.createElement('span'); m.className = 'm'; m.textContent = method;
      const p = document.createElement('code'); p.textContent = path;
      head.append(m, p); div.append(head);
      const s = document.createElement('div'); s.textContent = op.summary; div.append(s);
      const meta = document.createElement('div'); meta.className = 's';
      const params = (op.parameters || []).map(x => x.name + ' (' + x.in + ')').join(', ');
      meta.textContent = 'scopes: ' + (op['x-scopes'] || ['none']).join(' | ') + (params ? ' · parameters: ' + params : '');
      div.append(meta); ops.append(div);
    }
  }
});
</script></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for route in routes::ROUTES {
            assert!(doc["paths"].get(*route).is_some(), "{route} missing from the OpenAPI document");
        }
    }
}
