//! The hub's HTTP API, shaped like OpenGradient's v0 model hub API.
//!
//! | method        | path                                             | body / answer                              |
//! |---------------|--------------------------------------------------|--------------------------------------------|
//! | `GET`         | `/api/v0/models`                                 | `[ModelRecord]`                            |
//! | `POST` 🔏     | `/api/v0/models`                                 | [`NewModel`] → 201 `ModelRecord`           |
//! | `GET`         | `/api/v0/models/{name}`                          | [`ModelDetails`] (model + versions)        |
//! | `GET`         | `/api/v0/models/{name}/versions`                 | `[VersionRecord]`                          |
//! | `POST` 🔏 👤  | `/api/v0/models/{name}/versions`                 | [`NewVersion`] → 201 `{versionString, …}`  |
//! | `GET`         | `/api/v0/models/{name}/versions/{v}/files`       | `[FileRecord]` (`filename, ipfsCid, size`) |
//! | `POST` 🔏 👤  | `/api/v0/models/{name}/versions/{v}/files`       | multipart field `file` → 201 `FileRecord`  |
//! | `GET`/`HEAD`  | `/api/v0/blobs/{cid}`                            | the bytes; `Range: bytes=a-b` → 206        |
//!
//! Every path also answers with a trailing slash. 🔏: signed request (see [`crate::auth`]); 👤: only the
//! model's owner. Errors are `{"error": "…"}` with 400 (bad input), 401 (signature), 403 (not the owner),
//! 404, 409 (exists), 413 (over the per-file limit), 416 (range) or 500.
//!
//! # Uploads
//!
//! The upload body is read as a stream, never buffered: the raw bytes are hashed (for the signature) while
//! the `file` part streams into blob staging under the per-file limit (axum's 2 MB default body limit does
//! not apply). The owner check happens from the headers before the body is read; the signature is
//! checked after the last byte, and the staged blob is committed only if it verifies. An optional text
//! field `cid` declares the file's CID; a mismatch is refused and nothing is stored. When a request is
//! refused before its body was consumed, up to [`DRAIN_LIMIT`] further bytes are read and discarded so
//! that the client reliably receives the error response instead of a connection reset.

use std::{future::Future, io, sync::Arc, task::Poll, time::Duration};

use axum::{
    Json, Router,
    body::{Body, BodyDataStream, Bytes},
    extract::{DefaultBodyLimit, Path, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get},
};
use futures::{Stream, StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use ogn_types::ModelCid;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    Hub,
    auth::{AuthError, AuthHeaders, Verifier, unix_now},
    blob::{BlobError, StagedBlob},
    error::HubError,
    index::{FileAdded, ModelRecord, NewModel, VersionRecord},
    names::{InvalidName, validate_filename, validate_model_name},
    range::{RangeRequest, parse_range},
    version::Version,
};

/// Largest JSON request body (create model, create version).
pub const MAX_JSON_BODY: usize = 1 << 20;
/// Room for multipart headers and small fields on top of the per-file limit.
pub const MULTIPART_OVERHEAD: u64 = 1 << 20;
/// Most bytes read and discarded from a refused upload so that the client sees the response.
pub const DRAIN_LIMIT: u64 = 16 << 20;

/// A model with its versions (`GET /api/v0/models/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDetails {
    /// The model.
    #[serde(flatten)]
    pub model: ModelRecord,
    /// Its versions, oldest first.
    pub versions: Vec<VersionRecord>,
}

/// Body of `POST /api/v0/models/{name}/versions` (OpenGradient's field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVersion {
    /// Release notes.
    #[serde(default)]
    pub notes: String,
    /// Major release (`1.xx` → `2.00`) instead of minor (`1.00` → `1.01`).
    #[serde(default, alias = "isMajor")]
    pub is_major: bool,
}

/// An error answer: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    content_range: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), content_range: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "hub request failed");
        }
        Self::new(status, e.to_string())
    }
}

macro_rules! via_hub_error {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                HubError::from(e).into()
            }
        }
    )*};
}
via_hub_error!(AuthError, BlobError, InvalidName);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(range) = self.content_range
            && let Ok(v) = HeaderValue::from_str(&range)
        {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        response
    }
}

#[derive(Debug, Clone)]
struct AppState {
    hub: Arc<Hub>,
    verifier: Arc<Verifier>,
}

/// The hub's routes over `hub`. Serve it with `axum::serve`, or use [`serve`].
pub fn router(hub: Arc<Hub>) -> Router {
    let verifier = Arc::new(Verifier::new(hub.config().auth_window_secs));
    let state = AppState { hub, verifier };
    let routes: [(&str, MethodRouter<AppState>); 6] = [
        ("/api/v0/models", get(list_models).post(create_model)),
        ("/api/v0/models/{name}", get(show_model)),
        ("/api/v0/models/{name}/versions", get(list_versions).post(create_version)),
        (
            "/api/v0/models/{name}/versions/{version}/files",
            get(list_files).post(upload_file).layer(DefaultBodyLimit::disable()),
        ),
        ("/api/v0/blobs/{cid}", get(get_blob).head(head_blob)),
        ("/api/v0/health", get(|| async { Json(serde_json::json!({ "ok": true })) })),
    ];
    let mut router = Router::new();
    for (path, method_router) in routes {
        router =
            router.route(path, method_router.clone()).route(&format!("{path}/"), method_router);
    }
    router
        .fallback(|uri: Uri| async move {
            ApiError::new(StatusCode::NOT_FOUND, format!("no such endpoint: {}", uri.path()))
        })
        .with_state(state)
}

/// Serves the hub API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router(hub)).with_graceful_shutdown(shutdown).await
}

fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str())
}

fn parse_version(s: &str) -> Result<Version, ApiError> {
    Ok(s.parse::<Version>()?)
}

/// Reads a small body completely; 413 past [`MAX_JSON_BODY`].
async fn read_small_body(body: Body) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_JSON_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {MAX_JSON_BODY} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(format!("reading the request body failed: {e}"))),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

async fn list_models(State(st): State<AppState>) -> Result<Json<Vec<ModelRecord>>, ApiError> {
    Ok(Json(st.hub.list_models().await?))
}

async fn create_model(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ModelRecord>), ApiError> {
    let auth = AuthHeaders::from_headers(&headers)?;
    let body = read_small_body(body).await?;
    let body_hash: [u8; 32] = Sha256::digest(&body).into();
    let signer =
        st.verifier.verify(&auth, method.as_str(), path_and_query(&uri), &body_hash, unix_now())?;
    let new: NewModel = parse_json(&body, "model")?;
    let record = st.hub.create_model(new, signer).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

async fn show_model(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ModelDetails>, ApiError> {
    validate_model_name(&name)?;
    let (model, versions) = st.hub.model_with_versions(&name).await?;
    Ok(Json(ModelDetails { model, versions }))
}

async fn list_versions(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<VersionRecord>>, ApiError> {
    validate_model_name(&name)?;
    Ok(Json(st.hub.model_with_versions(&name).await?.1))
}

async fn create_version(
    State(st): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<VersionRecord>), ApiError> {
    let auth = AuthHeaders::from_headers(&headers)?;
    st.verifier.check_fresh(&auth, unix_now())?;
    validate_model_name(&name)?;
    let body = read_small_body(body).await?;
    st.hub.check_owner(&name, auth.address).await?;
    let body_hash: [u8; 32] = Sha256::digest(&body).into();
    st.verifier.verify(&auth, method.as_str(), path_and_query(&uri), &body_hash, unix_now())?;
    let new: NewVersion = parse_json(&body, "version request")?;
    let record = st.hub.create_version(&name, &new.notes, new.is_major).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

async fn list_files(
    State(st): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    validate_model_name(&name)?;
    let version = parse_version(&version)?;
    Ok(Json(st.hub.files(&name, version).await?).into_response())
}

/// The request body, shared so that the handler can drain what the multipart parser left.
type SharedBody = Arc<Mutex<BodyDataStream>>;

/// A stream over the shared body that feeds every chunk to `hasher`.
fn hashing_stream(
    body: SharedBody,
    hasher: Arc<Mutex<Sha256>>,
) -> impl Stream<Item = Result<Bytes, axum::Error>> + Send + 'static {
    futures::stream::poll_fn(move |cx| {
        let polled = body.lock().poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            hasher.lock().update(chunk);
        }
        polled
    })
}

/// Reads and discards at most `limit` more bytes of the body (bounded in time too).
async fn drain(body: &SharedBody, limit: u64) {
    let body = body.clone();
    let fut = async move {
        let mut seen = 0u64;
        let mut stream = futures::stream::poll_fn(move |cx| body.lock().poll_next_unpin(cx));
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len() as u64;
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), fut).await;
}

async fn upload_file(
    State(st): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body: SharedBody = Arc::new(Mutex::new(body.into_data_stream()));
    let result = upload_inner(&st, &name, &version, &parts, body.clone()).await;
    if result.is_err() {
        drain(&body, DRAIN_LIMIT).await;
    }
    result
}

async fn upload_inner(
    st: &AppState,
    name: &str,
    version: &str,
    parts: &axum::http::request::Parts,
    body: SharedBody,
) -> Result<Response, ApiError> {
    // Everything decidable from the headers, before reading the body.
    let auth = AuthHeaders::from_headers(&parts.headers)?;
    st.verifier.check_fresh(&auth, unix_now())?;
    validate_model_name(name)?;
    let version = parse_version(version)?;
    st.hub.check_owner(name, auth.address).await?;
    st.hub.version(name, version).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("expected a multipart/form-data body"))?;
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        ApiError::bad_request(format!("expected multipart/form-data with a boundary: {e}"))
    })?;

    let limit = st.hub.config().max_file_size;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit.saturating_add(MULTIPART_OVERHEAD))
            .for_field("cid", 1024),
    );
    let mut multipart = multer::Multipart::with_constraints(
        hashing_stream(body.clone(), hasher.clone()),
        boundary,
        constraints,
    );
    let mut staged: Option<(String, StagedBlob)> = None;
    let mut declared: Option<ModelCid> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e, limit)),
        };
        match field.name() {
            Some("file") => {
                if staged.is_some() {
                    return Err(ApiError::bad_request("more than one `file` field"));
                }
                let filename = field
                    .file_name()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::bad_request("the `file` field has no filename"))?;
                validate_filename(&filename)?;
                let data = field.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)).boxed();
                let blob = st.hub.stage(data).await?;
                staged = Some((filename, blob));
            }
            Some("cid") | Some("ipfsCid") => {
                let text = field.text().await.map_err(|e| multipart_error(e, limit))?;
                let cid = text.trim().parse::<ModelCid>().map_err(|e| {
                    ApiError::bad_request(format!("invalid declared CID in field `cid`: {e}"))
                })?;
                declared = Some(cid);
            }
            _ => {
                // Unknown fields are read (within the whole-stream limit) and ignored.
                let mut field = field;
                while field.chunk().await.map_err(|e| multipart_error(e, limit))?.is_some() {}
            }
        }
    }
    drop(multipart);
    // Whatever follows the closing boundary is part of the signed body too.
    let mut rest = hashing_stream(body, hasher.clone());
    let mut epilogue = 0usize;
    while let Some(chunk) = rest.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the body failed: {e}")))?;
        epilogue += chunk.len();
        if epilogue > 64 * 1024 {
            return Err(ApiError::bad_request(
                "too many bytes after the closing multipart boundary",
            ));
        }
    }
    let Some((filename, staged)) = staged else {
        return Err(ApiError::bad_request("missing multipart field `file`"));
    };
    let body_hash: [u8; 32] = hasher.lock().clone().finalize().into();
    if let Err(e) = st.verifier.verify(
        &auth,
        parts.method.as_str(),
        path_and_query(&parts.uri),
        &body_hash,
        unix_now(),
    ) {
        st.hub.blobs().discard(staged).await?;
        return Err(e.into());
    }
    match st.hub.commit_file(name, version, &filename, staged, declared).await? {
        FileAdded::Created(record) => Ok((StatusCode::CREATED, Json(record)).into_response()),
        FileAdded::AlreadyPresent(record) => Ok((StatusCode::OK, Json(record)).into_response()),
    }
}

fn multipart_error(e: multer::Error, limit: u64) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("upload exceeds the per-file limit of {limit} bytes"),
        ),
        other => ApiError::bad_request(format!("malformed multipart body: {other}")),
    }
}

fn parse_cid(s: &str) -> Result<ModelCid, ApiError> {
    s.parse().map_err(|e| ApiError::bad_request(format!("invalid CID: {e}")))
}

fn blob_headers(
    builder: axum::http::response::Builder,
    cid: &ModelCid,
) -> axum::http::response::Builder {
    builder
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{cid}\""))
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
}

async fn head_blob(
    State(st): State<AppState>,
    Path(cid): Path<String>,
) -> Result<Response, ApiError> {
    let cid = parse_cid(&cid)?;
    let size = st.hub.blobs().size(&cid).await?.ok_or(BlobError::NotFound(cid))?;
    blob_headers(Response::builder(), &cid)
        .header(header::CONTENT_LENGTH, size)
        .body(Body::empty())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn get_blob(
    State(st): State<AppState>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cid = parse_cid(&cid)?;
    let blobs = st.hub.blobs();
    let size = blobs.size(&cid).await?.ok_or(BlobError::NotFound(cid))?;
    let range = match headers.get(header::RANGE) {
        None => RangeRequest::Full,
        Some(v) => {
            let v =
                v.to_str().map_err(|_| ApiError::bad_request("invalid Range header: not ASCII"))?;
            parse_range(v, size).map_err(|e| ApiError::bad_request(e.to_string()))?
        }
    };
    let built = match range {
        RangeRequest::Unsatisfiable => {
            let mut e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("range not satisfiable: blob {cid} has {size} bytes"),
            );
            e.content_range = Some(format!("bytes */{size}"));
            return Err(e);
        }
        RangeRequest::Full => {
            // Verify first so that corruption is a clean 500, then stream (hashing again on the way out).
            blobs.verify(&cid).await?;
            let (size, stream) = blobs.open(&cid).await?;
            blob_headers(Response::builder().status(StatusCode::OK), &cid)
                .header(header::CONTENT_LENGTH, size)
                .body(Body::from_stream(stream))
        }
        RangeRequest::Partial { start, end } => {
            let stream = blobs.get_range(&cid, start..end).await?;
            blob_headers(Response::builder().status(StatusCode::PARTIAL_CONTENT), &cid)
                .header(header::CONTENT_LENGTH, end - start)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{size}", end - 1))
                .body(Body::from_stream(stream))
        }
    };
    built.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
