//! The HTTP edge: every route is registered here, in [`configure`]. Handlers
//! are thin: extract, authorise, call one service function, map the result.

pub mod activity;
pub mod auth;
pub mod dapr;
pub mod docs;
pub mod errors;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod tags;
pub mod tasks;
pub mod webhooks;

use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::SwaggerUi;

/// Registers every route. Order matters: actix does not fall through from a
/// matching scope, so fixed prefixes come before `/api/{user_id}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Resources rather than bare routes throughout: a resource answers a
    // method it does not serve with 405 (and `Allow`), a bare route with 404.
    cfg.service(web::resource("/healthz").get(ops::healthz))
        .service(web::resource("/readyz").get(ops::readyz))
        .service(web::resource("/metrics").get(activity::metrics))
        .service(web::resource("/dapr/subscribe").get(dapr::subscribe))
        .service(web::resource("/job/{name}").post(dapr::job))
        .service(web::resource("/openapi.json").get(docs::openapi_json))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
        )
        .service(web::resource("/docs").get(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }))
        .service(
            web::scope("/api/auth")
                .service(web::resource("/signup").post(auth::signup))
                .service(web::resource("/login").post(auth::login))
                .service(web::resource("/logout").post(auth::logout))
                .service(web::resource("/logout-all").post(auth::logout_all))
                .service(
                    web::resource("/tokens")
                        .get(auth::list_tokens)
                        .post(auth::create_token),
                )
                .service(web::resource("/tokens/{token_id}").delete(auth::revoke_token))
                .service(web::resource("/me").get(auth::me).patch(auth::update_me)),
        )
        .service(web::resource("/api/ws/{user_id}").get(crate::ws::connect))
        .service(
            web::scope("/api/events")
                // A CloudEvent carries a whole task and its changes: more
                // than an API request body may be.
                .app_data(web::PayloadConfig::new(dapr::MAX_DELIVERY_BYTES))
                .service(web::resource("/{topic}").post(dapr::deliver)),
        )
        .service(user_scope("/api/v1"))
        .service(user_scope("/api/{user_id}"));
}

/// The user-scoped API, mounted at `/api/{user_id}` and `/api/v1`.
fn user_scope(prefix: &str) -> actix_web::Scope {
    web::scope(prefix)
        .service(web::resource("/tasks").get(tasks::list).post(tasks::create))
        .service(web::resource("/tasks/clear-completed").post(tasks::clear_completed))
        .service(web::resource("/tasks/quick-add").post(tasks::quick_add))
        .service(
            web::resource("/tasks/{task_id}")
                .get(tasks::get)
                .put(tasks::replace)
                .patch(tasks::patch)
                .delete(tasks::delete),
        )
        .service(web::resource("/tasks/{task_id}/complete").post(tasks::complete))
        .service(web::resource("/tasks/{task_id}/uncomplete").post(tasks::uncomplete))
        .service(web::resource("/tasks/{task_id}/skip-occurrence").post(tasks::skip_occurrence))
        .service(
            web::resource("/tasks/{task_id}/reminder")
                .post(tasks::set_reminder)
                .put(tasks::set_reminder)
                .delete(tasks::remove_reminder),
        )
        .service(web::resource("/reminders").get(tasks::list_reminders))
        .service(web::resource("/tasks/{task_id}/tags").post(tasks::add_tag))
        .service(web::resource("/tasks/{task_id}/tags/{tag_id}").delete(tasks::remove_tag))
        .service(web::resource("/activity-logs").get(activity::list))
        .service(web::resource("/tags").get(tags::list).post(tags::create))
        .service(
            web::resource("/tags/{tag_id}")
                .put(tags::update)
                .delete(tags::delete),
        )
        .service(
            web::resource("/webhooks")
                .get(webhooks::list)
                .post(webhooks::create),
        )
        .service(
            web::resource("/webhooks/{webhook_id}")
                .get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .service(web::resource("/webhooks/{webhook_id}/rotate-secret").post(webhooks::rotate))
        .service(web::resource("/webhooks/{webhook_id}/deliveries").get(webhooks::deliveries))
        .service(web::resource("/webhooks/{webhook_id}/test").post(webhooks::test))
        .service(web::resource("/webhooks/{webhook_id}/replay").post(webhooks::replay))
}
