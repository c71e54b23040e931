//! Print the OpenAPI document: `cargo run -p server --example openapi > openapi.json`.
fn main() {
    println!("{}", server::openapi::document_json());
}
