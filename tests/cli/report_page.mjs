// Opens report's HTML page in headless Chromium (Debian's, driven with playwright-core
// as the webgpu backend drives it) and prints, as one JSON object, what a reader sees:
// the summary, the rows each filter value leaves visible, the cells' hover texts, what
// clicking the first cell shows, the charts drawn, and everything the page logged as
// an error or opened as a dialog. test_report.py asserts on it.
// Usage: node report_page.mjs PAGE CHROMIUM NODE_MODULES
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [page_file, chromium_path, modules] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(modules, "playwright-core/index.mjs")).href);
const browser = await chromium.launch({
  executablePath: chromium_path,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  const dialogs = [];
  const requests = [];
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("dialog", async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });
  page.on("request", (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(page_file).href);
  const visible = () => page.$$eval("#matrix tr.model", (rows) => rows.filter((r) => !r.hidden).length);
  const facts = {
    summary: await page.textContent("#summary"),
    rows: await visible(),
    shown: await page.textContent("#shown"),
    filters: {},
    titles: await page.$$eval("#matrix td[title]", (cells) => cells.map((c) => c.getAttribute("title"))),
    texts: await page.$$eval("#matrix td", (cells) => cells.map((c) => c.textContent)),
    columns_with_backend_filter: null,
    charts: await page.evaluate(() => (typeof Chart === "undefined" ? null
      : ["chart-latency", "chart-throughput", "chart-overhead"].filter((id) => Chart.getChart(id)).length)),
    charts_missing_note: await page.isVisible("#charts-missing"),
    benchmark_rows: await page.$$eval("#figures tr", (rows) => rows.length),
    injected: await page.evaluate(() => window.injected ?? null),
  };
  for (const name of ["family", "task", "backend", "status"]) {
    const values = await page.$$eval(`#filter-${name} option`, (options) => options.map((o) => o.value));
    facts.filters[name] = {};
    for (const value of values.filter(Boolean)) {
      await page.selectOption(`#filter-${name}`, value);
      facts.filters[name][value] = await visible();
      if (name === "backend" && facts.columns_with_backend_filter === null) {
        facts.columns_with_backend_filter = await page.$$eval("#matrix thead th",
          (cells) => cells.filter((c) => !c.hidden).map((c) => c.textContent));
      }
    }
    await page.selectOption(`#filter-${name}`, "");
  }
  const first = await page.$("#matrix td[data-status]");
  if (first) await first.click();
  facts.detail = await page.textContent("#detail pre");
  facts.history_items = await page.$$eval("#matrix details li", (items) => items.map((i) => i.textContent));
  facts.errors = errors;
  facts.dialogs = dialogs;
  facts.requests = requests.filter((url) => url !== pathToFileURL(page_file).href);
  facts.injected = facts.injected ?? (await page.evaluate(() => window.injected ?? null));
  process.stdout.write(JSON.stringify(facts) + "\n");
} finally {
  await browser.close();
}
