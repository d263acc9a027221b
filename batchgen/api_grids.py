"""Response models of grids: contact sheets (listed on the batch JSON) and the preview's ETA."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ContactSheet(BaseModel):
    """One page of a grid batch's contact sheet: a PNG in the batch's output folder, served by ComfyUI's /view."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(description="1, 2, … (one page per value of the third and further axes, and per source row).")
    filename: str = Field(description="sheet-001.png, sheet-002.png, …")
    subfolder: str = Field(description="<batch output_subfolder>/_contact_sheets")
    type: str = Field(description="Always output (ComfyUI's output folder).")
    title: str = Field(description="What the page shows beyond X and Y, e.g. 'prompts[0] · sampler: euler'.")
    width: int
    height: int
    url: str = Field(description="/api/view?filename=...&subfolder=...&type=output, absolute like an output's url.")


class Eta(BaseModel):
    """How long the batch would take (seconds) and when it would be done given the backlog (finish_seconds)."""

    model_config = ConfigDict(extra="forbid")

    seconds: float | None = Field(description="median_job_seconds × jobs / parallel; null when there is no history (see reason).")
    median_job_seconds: float | None = Field(description="Median run time of the template's recent succeeded jobs.")
    samples: int = Field(description="Jobs the median is taken over (latest succeeded jobs of the template's recent batches).")
    parallel: int = Field(description="Processes feeding jobs now (live owners, each with its ComfyUI); at least 1.")
    reason: str | None = Field(description="Why seconds is null (inline template, no succeeded job yet), else null.")
    finish_seconds: float | None = Field(description="seconds + backlog_seconds: when the batch would be done if submitted now; "
                                         "null when seconds or backlog_seconds is.")
    backlog_jobs: int = Field(description="Jobs of other batches that run before or alongside this one: already queued in "
                                          "ComfyUI, of higher priority, or taking turns at the same priority.")
    backlog_seconds: float | None = Field(description="Their estimated run time (each with its own template's median) / parallel.")
    covers: str = Field(description="What seconds and finish_seconds cover, and what they leave out, in words.")
