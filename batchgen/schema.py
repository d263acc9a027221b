"""Numbered SQLite migrations. Append only: never edit a migration that has shipped."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            template_id TEXT,
            template_json TEXT NOT NULL,
            options_json TEXT NOT NULL DEFAULT '{}',
            output_subfolder TEXT NOT NULL,
            total INTEGER NOT NULL,
            n_pending INTEGER NOT NULL DEFAULT 0,
            n_queued INTEGER NOT NULL DEFAULT 0,
            n_running INTEGER NOT NULL DEFAULT 0,
            n_succeeded INTEGER NOT NULL DEFAULT 0,
            n_failed INTEGER NOT NULL DEFAULT 0,
            n_cancelled INTEGER NOT NULL DEFAULT 0,
            paused INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 3,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL,
            last_fed_at REAL NOT NULL DEFAULT 0,
            idempotency_key TEXT UNIQUE,
            request_hash TEXT
        );
        CREATE INDEX batches_status_seq ON batches(status, seq);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            status TEXT NOT NULL,
            params_json TEXT NOT NULL,
            seed,
            attempts INTEGER NOT NULL DEFAULT 0,
            prompt_id TEXT,
            boot_id TEXT,
            created_at REAL NOT NULL,
            queued_at REAL,
            started_at REAL,
            finished_at REAL,
            not_before REAL NOT NULL DEFAULT 0,
            outputs_json TEXT,
            error_json TEXT,
            UNIQUE (batch_id, idx)
        );
        CREATE INDEX jobs_batch_status_idx ON jobs(batch_id, status, idx);
        CREATE INDEX jobs_in_flight ON jobs(status) WHERE status IN ('queued', 'running');
        CREATE INDEX jobs_prompt_id ON jobs(prompt_id);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    ),
    (
        2,
        # How often a job vanished from ComfyUI's queue without being seen running (poison-pill guard).
        "ALTER TABLE jobs ADD COLUMN requeues INTEGER NOT NULL DEFAULT 0",
    ),
    (
        3,
        # Jobs owned by one process at a time (batchgen/leases.py) and the durable event log.
        # boot_id was written and never read: it becomes the owner of an in-flight job.
        """
        ALTER TABLE jobs RENAME COLUMN boot_id TO owner_id;
        CREATE INDEX jobs_owner_in_flight ON jobs(owner_id) WHERE status IN ('queued', 'running');
        CREATE INDEX jobs_batch_status_due ON jobs(batch_id, status, not_before);
        CREATE TABLE owners (
            owner_id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            hostname TEXT NOT NULL,
            pid INTEGER NOT NULL,
            machine TEXT NOT NULL DEFAULT '',
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        );
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            batch_id TEXT,
            job_id INTEGER,
            created_at REAL NOT NULL,
            data_json TEXT NOT NULL
        );
        CREATE INDEX events_batch_seq ON events(batch_id, seq)
        """,
    ),
    (
        4,
        # Where each job came from (sources: table row, axis indexes, wildcard variant) and the request a batch was
        # expanded from, so a batch can be re-run or edited and grids assembled later (batchgen/sources.py).
        """
        ALTER TABLE jobs ADD COLUMN coords_json TEXT;
        ALTER TABLE batches ADD COLUMN request_json TEXT
        """,
    ),
    (
        5,
        # Uploaded tables and images (batchgen/uploads.py): server-chosen id and stored file, the sanitised original name
        # for display only, and when it was last used by a batch (unused uploads are cleaned up after BATCHGEN_UPLOAD_TTL_HOURS).
        """
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            format TEXT NOT NULL,
            name TEXT NOT NULL,
            stored TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            width INTEGER,
            height INTEGER,
            info_json TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            last_used_at REAL NOT NULL
        );
        CREATE INDEX uploads_kind_created ON uploads(kind, created_at)
        """,
    ),
    (
        6,
        # Contact sheets of grid batches (batchgen/sheets.py): the pages made for a batch, and the seq of the batch event
        # (its finish) they were made for, so one process renders each finish and a retried batch's next finish renders
        # again. batches(template_id, seq) serves the preview's ETA: the recent batches of one template.
        """
        CREATE TABLE contact_sheets (
            batch_id TEXT PRIMARY KEY REFERENCES batches(id) ON DELETE CASCADE,
            finished_seq INTEGER NOT NULL,
            pages_json TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL
        );
        CREATE INDEX batches_template_seq ON batches(template_id, seq)
        """,
    ),
    (
        7,
        # Signed webhooks (batchgen/webhooks.py): each webhook's delivery cursor (the last event-log seq delivered or
        # skipped) and lease (one process delivers it), and every delivery attempt. Secrets are not here: they live in
        # webhook_secrets.json (0600) beside tokens.json, so a copied database carries none.
        """
        CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            events_json TEXT NOT NULL,
            batch_id TEXT REFERENCES batches(id) ON DELETE CASCADE,
            description TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            cursor INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            last_status TEXT,
            last_attempt_at REAL,
            owner_id TEXT,
            lease_until REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
            event_seq INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            started_at REAL NOT NULL,
            duration_ms REAL NOT NULL,
            status_code INTEGER,
            ok INTEGER NOT NULL,
            error TEXT
        );
        CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id)
        """,
    ),
    (
        8,
        # sha256 of output files, computed once when a manifest or export first reads a file and trusted only while the
        # file's size and mtime_ns are unchanged (batchgen/manifest.py): a file changed on disk is hashed again.
        """
        CREATE TABLE output_hashes (
            type TEXT NOT NULL,
            subfolder TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            hashed_at REAL NOT NULL,
            PRIMARY KEY (type, subfolder, filename)
        )
        """,
    ),
    (
        9,
        # jobs.cached: whether ComfyUI served a succeeded job's outputs from its cache (its execution_cached message); NULL:
        # not reported (jobs finished before this column, or found complete on disk after a restart).
        # contact_sheets.rendered_seq / owner_id: the finish whose pages were saved, and the process rendering the claimed
        # one, so a render cut off by a crash (claimed, never saved, its process gone) is made at the next startup
        # (batchgen/sheets.py resume). Sheets of earlier versions count as rendered.
        # webhooks.streak/streak_since/disabled_at/disabled_reason: the failure streak that disables a webhook after
        # BATCHGEN_WEBHOOK_DISABLE_AFTER attempts over BATCHGEN_WEBHOOK_DISABLE_HOURS (POST /webhooks/{id}/enable).
        """
        ALTER TABLE jobs ADD COLUMN cached INTEGER;
        ALTER TABLE contact_sheets ADD COLUMN rendered_seq INTEGER;
        ALTER TABLE contact_sheets ADD COLUMN owner_id TEXT;
        UPDATE contact_sheets SET rendered_seq = finished_seq;
        ALTER TABLE webhooks ADD COLUMN streak INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE webhooks ADD COLUMN streak_since REAL;
        ALTER TABLE webhooks ADD COLUMN disabled_at REAL;
        ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT
        """,
    ),
]
