//! `docs/openapi.json` must equal the document the server's route table generates.
//! After an intended change to a route, regenerate with
//! `UPDATE_OPENAPI=1 cargo test -p counterfoil-server openapi`.

use std::path::PathBuf;

#[test]
fn openapi_json_is_in_step_with_the_routes() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let doc = counterfoil_server::openapi::document();
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/openapi.json is out of step with the routes; \
         run UPDATE_OPENAPI=1 cargo test -p counterfoil-server openapi"
    );
}

#[test]
fn document_lists_the_reports_with_their_required_parameters() {
    let doc = counterfoil_server::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let owners = &doc["paths"]["/v1/reports/owners"]["get"];
    let required: Vec<&str> = owners["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["required"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["performance_id", "limit"]);
    assert!(doc["paths"]["/v1/records"]["post"]["responses"]["409"].is_object());
    assert_eq!(
        doc["paths"]["/v1/health"]["get"]["security"],
        serde_json::json!([])
    );
    let history = &doc["paths"]["/v1/tickets/{id}/history"]["get"]["parameters"][0];
    assert_eq!(history["in"], "path");
}
