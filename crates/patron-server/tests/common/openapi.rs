//! Checks API exchanges against the OpenAPI document: the status must be one
//! the operation declares, a JSON body must match the declared schema, and a
//! request the server accepted must meet the request body's documented
//! constraints (so the document never promises less than the server takes).
//! A small validator for the subset of JSON Schema utoipa writes ($ref, type,
//! properties, required, items, oneOf/anyOf/allOf, enum, nullable types,
//! minimum/maximum, lengths, item counts, uuid and date formats).

use serde_json::Value;
use std::sync::OnceLock;

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(patron_server::http::openapi::spec()).unwrap())
}

/// The document's path template matching a concrete path.
fn template(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    doc()["paths"].as_object()?.keys().find_map(|t| {
        let ts: Vec<&str> = t.split('/').collect();
        (ts.len() == segs.len()
            && ts
                .iter()
                .zip(&segs)
                .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}'))))
        .then_some(t.as_str())
    })
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or("");
            &doc()["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// Every way `v` fails `schema`, with its JSON path.
pub fn check(schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(schema);
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(s, v, at, out);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(any) = schema[key].as_array() {
            let fits = any.iter().any(|s| {
                let mut e = Vec::new();
                check(s, v, at, &mut e);
                e.is_empty()
            });
            if !fits {
                out.push(format!("{at}: matches none of {key}"));
            }
        }
    }
    match &schema["type"] {
        Value::String(t) if !type_ok(t, v) => {
            if !(v.is_null() && schema["nullable"] == true) {
                out.push(format!("{at}: expected {t}, got {v}"));
            }
            return;
        }
        Value::Array(ts) if !ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v))) => {
            out.push(format!("{at}: expected one of {ts:?}, got {v}"));
            return;
        }
        _ => {}
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {values:?}"));
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), v.as_object()) {
        for (k, s) in props {
            if let Some(x) = obj.get(k) {
                check(s, x, &format!("{at}.{k}"), out);
            }
        }
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str()
                && !obj.contains_key(r)
            {
                out.push(format!("{at}: required {r} is missing"));
            }
        }
    }
    bounds(schema, v, at, out);
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(items, x, &format!("{at}[{i}]"), out);
        }
    }
}

/// Ranges, lengths, item counts and formats.
fn bounds(schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema["minimum"].as_f64()
            && n < min
        {
            out.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema["maximum"].as_f64()
            && n > max
        {
            out.push(format!("{at}: {n} is above the maximum {max}"));
        }
        if let Some(min) = schema["exclusiveMinimum"].as_f64()
            && n <= min
        {
            out.push(format!("{at}: {n} is not above {min}"));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64()
            && n < min
        {
            out.push(format!("{at}: {n} characters, fewer than {min}"));
        }
        if let Some(max) = schema["maxLength"].as_u64()
            && n > max
        {
            out.push(format!("{at}: {n} characters, more than {max}"));
        }
        let format_ok = match schema["format"].as_str() {
            Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
            Some("date") => {
                text.len() == 10
                    && text.char_indices().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == '-'
                        } else {
                            c.is_ascii_digit()
                        }
                    })
            }
            _ => true,
        };
        if !format_ok {
            out.push(format!("{at}: {text:?} is not a {}", schema["format"]));
        }
    }
    if let Some(arr) = v.as_array() {
        let n = arr.len() as u64;
        if schema["minItems"].as_u64().is_some_and(|min| n < min) {
            out.push(format!(
                "{at}: {n} items, fewer than {}",
                schema["minItems"]
            ));
        }
        if schema["maxItems"].as_u64().is_some_and(|max| n > max) {
            out.push(format!("{at}: {n} items, more than {}", schema["maxItems"]));
        }
    }
}

/// Panics if the server accepted (2xx) a JSON body that the document's
/// request schema for the operation does not allow.
pub fn validate_accepted_request(method: &str, path: &str, status: u16, body: &Value) {
    if !(200..300).contains(&status) {
        return;
    }
    let Some(t) = template(path) else { return };
    let op = &doc()["paths"][t][method.to_ascii_lowercase()];
    let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema") else {
        return;
    };
    let mut errors = Vec::new();
    check(schema, body, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {t} accepted a body its documented schema refuses: {errors:?}\n{body}"
    );
}

/// Panics unless the answer is one the document declares for the request.
pub fn validate(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) {
    let Some(t) = template(path) else {
        // Web pages, assets and unknown routes (answered 404 by the fallback);
        // `the_openapi_document_covers_every_route` checks every served route.
        return;
    };
    let op = &doc()["paths"][t][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {t}: not in the OpenAPI document");
    let declared = &op["responses"][status.to_string()];
    assert!(
        declared.is_object(),
        "{method} {t} answered {status}, which the document does not declare"
    );
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.ends_with("json") {
        return;
    }
    let Some(schema) = declared["content"][mime]
        .get("schema")
        .or_else(|| declared["content"]["application/json"].get("schema"))
    else {
        return;
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        panic!("{method} {t} {status}: the body is not JSON");
    };
    let mut errors = Vec::new();
    check(schema, &v, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {t} {status}: the body does not match the document: {errors:?}\n{v}"
    );
}
