//! The web console under `/ui`: pages rendered on the server from askama
//! templates (`api/templates/`), plain forms and links that work without
//! JavaScript, signed in with an API token through a server-side session.
//! It is not part of the API's OpenAPI document.

mod apps;
mod deployments;
mod env;
mod logs;
mod page;
mod processes;
mod promote;
mod releases;
mod session;
mod tokens;
mod view;
mod webhooks;

use crate::SMALL_BODY_BYTES;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::web::{self, get, post, resource, scope};
use actix_web::HttpResponse;
use page::PageError;
use promote::Action;

/// The console's routes, and `/` sending browsers to it.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").route(get().to(to_console)))
        .service(
            scope("/ui")
                .app_data(
                    web::FormConfig::default()
                        .limit(SMALL_BODY_BYTES)
                        .error_handler(|err, _| {
                            PageError::bad_form(format!("The form could not be read: {err}."))
                                .into()
                        }),
                )
                .app_data(web::QueryConfig::default().error_handler(|err, _| {
                    PageError::bad_form(format!("The address could not be read: {err}.")).into()
                }))
                .app_data(web::PathConfig::default().error_handler(|_, _| {
                    PageError::new(StatusCode::NOT_FOUND, "There is no such page.").into()
                }))
                .service(resource("").route(get().to(apps::list)))
                .service(resource("/").route(get().to(apps::list)))
                .service(resource("/static/htmx.min.js").route(get().to(page::htmx)))
                .service(resource("/static/console.css").route(get().to(page::css)))
                .service(
                    resource("/signin")
                        .route(get().to(session::form))
                        .route(post().to(session::sign_in)),
                )
                .service(resource("/signout").route(post().to(session::sign_out)))
                .service(resource("/apps/{app}/releases").route(get().to(releases::list)))
                .service(resource("/apps/{app}/releases/{id}").route(get().to(releases::show)))
                .service(
                    resource("/apps/{app}/releases/{id}/promote")
                        .route(get().to(|s, v, p| promote::confirm(s, v, p, Action::Promote)))
                        .route(post().to(|s, v, p, f| promote::start(s, v, p, f, Action::Promote))),
                )
                .service(
                    resource("/apps/{app}/releases/{id}/rollback")
                        .route(get().to(|s, v, p| promote::confirm(s, v, p, Action::Rollback)))
                        .route(
                            post().to(|s, v, p, f| promote::start(s, v, p, f, Action::Rollback)),
                        ),
                )
                .service(
                    resource("/apps/{app}/deployments/{id}").route(get().to(deployments::show)),
                )
                .service(
                    resource("/apps/{app}/env")
                        .app_data(env::form_config())
                        .route(get().to(env::show))
                        .route(post().to(env::preview)),
                )
                .service(
                    resource("/apps/{app}/env/confirm")
                        .app_data(env::form_config())
                        .route(post().to(env::confirm)),
                )
                .service(resource("/static/htmx-ext-sse.min.js").route(get().to(page::htmx_sse)))
                .service(resource("/apps/{app}/deployments").route(get().to(deployments::list)))
                .service(
                    resource("/apps/{app}/deployments/{id}/events")
                        .route(get().to(deployments::events)),
                )
                .service(
                    resource("/apps/{app}/deployments/{id}/cancel")
                        .route(post().to(deployments::cancel)),
                )
                .service(resource("/apps/{app}/processes").route(get().to(processes::list)))
                .service(resource("/apps/{app}/logs").route(get().to(logs::list)))
                .service(resource("/webhooks").route(get().to(webhooks::list)))
                .service(resource("/webhooks/{id}").route(get().to(webhooks::show)))
                .service(
                    resource("/webhooks/{id}/deliveries/{delivery}/redeliver")
                        .route(post().to(webhooks::redeliver)),
                )
                .service(resource("/tokens").route(get().to(tokens::list)))
                .service(
                    resource("/tokens/{id}/revoke")
                        .route(get().to(tokens::confirm))
                        .route(post().to(tokens::revoke)),
                )
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(PageError::new(
                        StatusCode::NOT_FOUND,
                        "There is no such page.",
                    ))
                }))
                .wrap(from_fn(page::console_headers)),
        );
}

/// `GET /`: the console.
async fn to_console() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui"))
        .finish()
}
