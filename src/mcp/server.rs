//! The MCP request handler: who is calling (from the HTTP request that
//! carried the message), which tools their token may see, and each call
//! run as that user.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use rmcp_actix_web::transport::on_request_extensions;
use slog::error;

use super::Caller;
use super::tools::{self, Access};
use crate::auth::Scope;
use crate::error::AppError;
use crate::service::Context;

const INSTRUCTIONS: &str = "The signed-in user's tasks. Find a task's id with list_tasks before \
changing it. Times are RFC 3339 with an offset (2026-05-01T09:00:00+02:00); where a bare date is \
allowed it is read in the user's time zone. Pass the `version` you read as `expected_version` to \
update_task and delete_task so that a change made meanwhile is not overwritten. A failed call \
returns `{\"error\": {\"code\", \"message\", \"details\"}}`; `details` names each refused field.";

/// One MCP server, for one request: the service context is all it holds.
pub struct McpServer {
    ctx: Context,
}

impl McpServer {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The caller the HTTP layer authenticated for this message.
    fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        on_request_extensions(&context.extensions)
            .and_then(|extensions| extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("the request carries no credential", None))
    }

    async fn run(
        &self,
        caller: &Caller,
        access: Access,
        request: CallToolRequestParams,
    ) -> CallToolResult {
        let name = request.name.as_ref();
        let result = match access {
            Access::Write if caller.credential.scope != Scope::Write => {
                Err(AppError::Forbidden("this token may only read"))
            }
            _ => {
                let arguments = request.arguments.unwrap_or_default();
                tools::call(
                    &self.ctx,
                    &caller.trace,
                    &caller.credential.user,
                    name,
                    arguments,
                )
                .await
            }
        };
        match result {
            Ok(value) => CallToolResult::structured(value),
            Err(err) => {
                if matches!(err, AppError::Internal(_) | AppError::Unavailable(_)) {
                    error!(self.ctx.log, "tool call failed";
                        "tool" => name, "request_id" => &caller.trace.traceid, "error" => err.chain());
                }
                CallToolResult::structured_error(err.body())
            }
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("taskstream", env!("CARGO_PKG_VERSION"))
                    .with_title("taskstream")
                    .with_description(
                        "Tasks with due dates, priorities, tags, recurrence and reminders",
                    ),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = Self::caller(&context)?;
        let may_write = caller.credential.scope == Scope::Write;
        let tools = tools::catalog()
            .iter()
            .filter(|entry| may_write || entry.access == Access::Read)
            .map(|entry| entry.tool.clone())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = Self::caller(&context)?;
        let Some(entry) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            ));
        };
        Ok(self.run(&caller, entry.access, request).await.into())
    }
}
