//! DynamoDB items as the scan returned them (DynamoDB JSON, every value wrapped in its
//! type: `{"total": {"N": "12.50"}, "customer": {"M": {"id": {"S": "c1"}}}}`), turned
//! into plain documents at load time so fields are read by dotted path as for JSON lines.
//! The interim store keeps the items unchanged; only the load reads them this way.

use serde_json::{Map, Number, Value};

/// A whole item: each attribute unwrapped.
pub fn plain_item(item: Map<String, Value>) -> Map<String, Value> {
    item.into_iter().map(|(name, attribute)| (name, plain(attribute))).collect()
}

/// One attribute value without its type wrapper: `N` becomes a number (text when it
/// does not fit an `f64`, DynamoDB keeps 38 digits), sets and lists become arrays, maps
/// objects, `B` stays the base64 text it is on the wire. Anything not shaped like an
/// attribute value is kept as it is, so a wrong cell is a load error naming its column,
/// not a lost row.
pub fn plain(attribute: Value) -> Value {
    let Value::Object(mut wrapper) = attribute else { return attribute };
    if wrapper.len() != 1 {
        return Value::Object(wrapper);
    }
    let Some((ty, _)) = wrapper.iter().next() else { return Value::Object(wrapper) };
    let ty = ty.clone();
    let Some(inner) = wrapper.remove(&ty) else { return Value::Object(wrapper) };
    match (ty.as_str(), inner) {
        ("S" | "B" | "BOOL", v) => v,
        ("NULL", _) => Value::Null,
        ("N", Value::String(n)) => number(n),
        ("M", Value::Object(m)) => Value::Object(plain_item(m)),
        ("L", Value::Array(items)) => Value::Array(items.into_iter().map(plain).collect()),
        ("NS", Value::Array(items)) => {
            Value::Array(items.into_iter().map(|n| if let Value::String(n) = n { number(n) } else { n }).collect())
        }
        ("SS" | "BS", v @ Value::Array(_)) => v,
        (_, inner) => Value::Object(Map::from_iter([(ty, inner)])),
    }
}

fn number(text: String) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    // Up to 15 significant digits survive the trip through an f64 exactly.
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(f) if significant <= 15 => Value::Number(f),
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_attribute_type_unwraps() {
        let item = json!({
            "id": {"S": "c1"},
            "total": {"N": "12.5"},
            "count": {"N": "3"},
            "paid": {"BOOL": true},
            "note": {"NULL": true},
            "customer": {"M": {"address": {"M": {"city": {"S": "Oslo"}}}}},
            "lines": {"L": [{"M": {"sku": {"S": "x"}}}, {"N": "2"}]},
            "tags": {"SS": ["a", "b"]},
            "sizes": {"NS": ["1", "2.5"]},
            "blob": {"B": "AAEC"}
        });
        let Value::Object(item) = item else { panic!() };
        assert_eq!(
            Value::Object(plain_item(item)),
            json!({
                "id": "c1", "total": 12.5, "count": 3, "paid": true, "note": null,
                "customer": {"address": {"city": "Oslo"}},
                "lines": [{"sku": "x"}, 2], "tags": ["a", "b"], "sizes": [1, 2.5], "blob": "AAEC"
            })
        );
    }

    #[test]
    fn numbers_beyond_a_float_stay_exact_text() {
        assert_eq!(plain(json!({"N": "12345678901234567890123.25"})), json!("12345678901234567890123.25"));
        assert_eq!(plain(json!({"N": "-7"})), json!(-7));
        assert_eq!(plain(json!({"N": "0.1"})), json!(0.1));
    }

    #[test]
    fn what_is_not_an_attribute_value_is_kept_as_it_is() {
        assert_eq!(plain(json!("bare")), json!("bare"));
        assert_eq!(plain(json!({"S": "a", "N": "1"})), json!({"S": "a", "N": "1"}));
        assert_eq!(plain(json!({"N": 5})), json!({"N": 5}));
    }
}
