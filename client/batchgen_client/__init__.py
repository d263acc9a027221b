"""batchgen-client: submit batches to comfyui-batchgen, watch them, download verified results (sync and async)."""

from .aio import AsyncClient
from .auth import resolve_token
from .client import Client
from .download import DownloadResult
from .errors import ApiError, BatchgenError, NotAvailable, TokenError, VerifyError
from .models import Batch, Job, ManifestFile, ManifestRow
from .sdk import submit_batch_tasks, submit_single_task, wait_for_batch
from .sse import ServerEvent

__all__ = ["ApiError", "AsyncClient", "Batch", "BatchgenError", "Client", "DownloadResult", "Job", "ManifestFile", "ManifestRow",
           "NotAvailable", "ServerEvent", "TokenError", "VerifyError", "resolve_token", "submit_batch_tasks", "submit_single_task",
           "wait_for_batch"]
__version__ = "0.1.0"
