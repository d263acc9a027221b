// The BatchGen settings shown in ComfyUI's settings dialog (names and tooltips are translated through
// locales/<lang>/settings.json, keys settings.BatchGen_<Name>). Pure data: registered by main.js, which gives the
// server-side ones their renderers (tab/server/).

export const NOTIFICATIONS = "BatchGen.Notifications";
export const DEFAULT_TEMPLATE = "BatchGen.DefaultTemplate";
export const PAGE_SIZE = "BatchGen.PageSize";
export const FEED_WINDOW = "BatchGen.FeedWindow";
export const REMOTE_ACCESS = "BatchGen.RemoteAccess";

/** Setting definitions in the shape app.registerExtension({settings}) takes on every supported frontend. */
export const SETTINGS = [
  {
    id: NOTIFICATIONS,
    name: "Notify when a batch finishes",
    tooltip: "A toast with a link to the batch: for every finished batch, only for failed or partly failed ones, or never.",
    type: "combo",
    options: ["all", "failures", "off"],
    defaultValue: "all",
    category: ["BatchGen", "Notifications"],
  },
  {
    id: DEFAULT_TEMPLATE,
    name: "Default template for new batches",
    tooltip: "The template id the New batch form starts with (see GET /batchgen/v1/templates), e.g. text-card.",
    type: "text",
    defaultValue: "text-card",
    category: ["BatchGen", "New batch"],
  },
  {
    id: PAGE_SIZE,
    name: "Batches per page",
    tooltip: "How many batches the BatchGen tab's list shows on one page (10–500).",
    type: "number",
    attrs: { min: 10, max: 500, step: 10 },
    defaultValue: 50,
    category: ["BatchGen", "List"],
  },
];

/** The page size to use: the setting when it is a sane number, else 50. */
export function pageSize(value) {
  const n = Number(value);
  return Number.isInteger(n) && n >= 10 && n <= 500 ? n : 50;
}

/**
 * The server-side settings: their value lives on the server (GET/PATCH /batchgen/v1/settings, tokens), not in ComfyUI's
 * per-user settings, so each is a custom renderer (``type`` as a function returning an element; 1.35.9, 1.49.6 and
 * 1.58.1 all call it with (name, setter, value, attrs)) that reads and writes the server itself.
 */
export function serverSettings({ feedWindow, remoteAccess }) {
  return [
    {
      id: FEED_WINDOW,
      name: "Feed window",
      tooltip: "How many BatchGen jobs may wait in ComfyUI's queue at once. Automatic grows it while jobs take milliseconds. "
        + "Saved on the server, for every user; applies at once.",
      type: () => feedWindow(),
      defaultValue: "",
      category: ["BatchGen", "Server"],
    },
    {
      id: REMOTE_ACCESS,
      name: "Remote access",
      tooltip: "API tokens for scripts and other machines, and web pages (origins) allowed to call BatchGen. Admin only.",
      type: () => remoteAccess(),
      defaultValue: "",
      category: ["BatchGen", "Remote access"],
    },
  ];
}
