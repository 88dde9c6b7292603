//! Rebuilds when a message catalogue is added or changed: `locales/` is compiled into the
//! binary (fluent-templates' `static_loader!`), and a new `.ftl` file is not otherwise
//! seen by cargo.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
