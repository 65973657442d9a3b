//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! the Swagger UI that renders it (vendored: works offline).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{activity, auth, dapr, ops, tags, tasks};

#[derive(OpenApi)]
#[openapi(
    info(title = "taskstream", description = "Event-driven task manager API. Every route under \
        `/api/{user_id}/…` is also served under `/api/v1/…` for the token's own user."),
    paths(
        auth::signup, auth::login, auth::me, auth::update_me,
        tasks::create, tasks::list, tasks::get, tasks::replace, tasks::patch, tasks::delete,
        tasks::complete, tasks::uncomplete, tasks::skip_occurrence, tasks::set_reminder, tasks::remove_reminder, tasks::list_reminders, tasks::clear_completed, tasks::add_tag, tasks::remove_tag,
        tags::list, tags::create, tags::update, tags::delete,
        activity::list, activity::metrics, dapr::subscribe, dapr::deliver, dapr::job,
        crate::ws::connect,
        ops::healthz, ops::readyz,
    ),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "tasks"), (name = "tags"), (name = "activity"), (name = "reminders"), (name = "realtime"), (name = "dapr"), (name = "ops")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
