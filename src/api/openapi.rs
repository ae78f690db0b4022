//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire
//! types themselves, so it cannot drift from the code. Served at `/openapi.json`.

use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Custodia", description = "Compliance gateway for debt-collection data: encrypted party vault, audited access, role- and purpose-based visibility, consent ledger with signed proofs, retention holds and erasure by crypto-shredding."),
    paths(
        crate::vault::http::create_party,
        crate::vault::http::get_party,
        crate::vault::http::patch_party,
        crate::vault::http::search_parties,
        crate::vault::http::batch_parties,
        crate::obligations::http::create_obligation,
        crate::obligations::http::get_obligation,
        crate::obligations::http::patch_obligation,
        crate::obligations::http::list_payments,
        crate::obligations::http::add_payment,
        crate::obligations::http::list_promises,
        crate::obligations::http::add_promise,
        crate::obligations::http::party_obligations,
        crate::vault::retention::http::list_holds,
        crate::vault::retention::http::add_hold,
        crate::vault::retention::http::release_hold,
        crate::vault::erasure::http::erase_party,
        crate::audit::http::search_records,
        crate::audit::http::latest_checkpoint,
        crate::audit::http::public_key,
        crate::audit::http::record_proof,
        crate::audit::http::consistency,
        crate::audit::http::export_bundle,
        crate::audit::cosign::add_cosignature,
        crate::notices::http::create_notice,
        crate::notices::http::list_notices,
        crate::notices::http::get_notice,
        crate::notices::http::patch_notice,
        crate::notices::http::publish_notice,
        crate::notices::http::serve_notice,
        crate::consent::http::post_consent,
        crate::consent::http::get_consents,
        crate::consent::http::get_proof,
        crate::flags::http::post_flag,
        crate::flags::http::get_flags,
        crate::dsr::http::create_request,
        crate::dsr::http::step_request,
        crate::dsr::http::verify_identity,
        crate::dsr::http::assign_request,
        crate::dsr::http_read::list_requests,
        crate::dsr::http_read::get_request,
        crate::dsr::http_read::get_dossier,
        crate::dsr::http_read::get_proof,
        crate::api::healthz,
        crate::api::readyz,
        crate::api::metrics_text,
    ),
    components(schemas(crate::api::error::ErrorBody, crate::api::error::ErrorDetail)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

pub async fn serve() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}
