// comfyui-batchgen frontend entry: announces finished batches with a toast.
import { app, api, toast } from "./host.js";
import { EVENT_BATCH, finishedToast } from "./events.js";

const lastStatus = new Map();

// Custom websocket events are only dispatched to types registered before they arrive,
// so the listener is added at module load, not lazily.
api.addEventListener(EVENT_BATCH, (event) => {
  const batch = event.detail;
  const message = finishedToast(batch, lastStatus.get(batch?.id));
  if (batch?.id) lastStatus.set(batch.id, batch.status);
  if (message) toast(message.severity, message.summary, message.detail);
});

app.registerExtension({ name: "batchgen.core" });
