#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;

#[tokio::test]
async fn a_created_party_reads_back_for_compliance_review() {
    let app = spawn_app().await;
    let id = app.create_party(&party(1)).await;
    let (status, body) = app.read_party(Role::Compliance, "compliance_review", &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["national_id"]["number"], "739100001");
    assert_eq!(body["phones"][1]["id"], "mobile", "phones are listed by element id");
    assert_eq!(body["phones"][1]["number"], "+573157300001");
    app.stop().await;
}
