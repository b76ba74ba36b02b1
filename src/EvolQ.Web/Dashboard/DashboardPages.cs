using System.Net;
using System.Text.Json;

namespace EvolQ.Web.Dashboard;

/// <summary>
/// The dashboard's HTML: each page is a frame whose own plain script polls the JSON API once a second and redraws its
/// tables (no build step, nothing loaded from elsewhere). Text from sweep files is put in with textContent, never as
/// HTML.
/// </summary>
internal static class DashboardPages
{
    public static string Sweeps(string source) => Page("Sweeps", source, """
        <h1>Sweeps</h1>
        <table id="sweeps"><thead><tr><th>sweep</th><th>name</th><th>state</th><th>jobs</th><th>done</th><th>running</th>
        <th>waiting</th><th>failed</th><th>cancelled</th><th>elapsed</th><th>ETA</th></tr></thead><tbody></tbody></table>
        <script>
        poll('/api/sweeps', sweeps => fill('sweeps', sweeps, s => [
          link('/sweeps/' + encodeURIComponent(s.id), s.id), s.name, s.state, s.jobs, s.done, s.running, s.waiting,
          s.failed, s.cancelled, duration(s.elapsedSeconds), duration(s.etaSeconds)], s => s.id));
        </script>
        """);

    public static string Sweep(string id, string source, bool canAct) => Page($"Sweep {id}", source, $$"""
        <h1>Sweep <span id="sweep-id"></span></h1>
        <p id="summary"></p>
        {{(canAct ? """
        <p class="actions">Token <input id="token" type="password" autocomplete="off">
        <button id="cancel">Cancel the sweep</button> <button id="resume">Resume the sweep</button>
        <button id="retry">Retry failed jobs</button> <span id="answer"></span></p>
        """ : "<p>Read-only: cancel, resume and retry on a node.</p>")}}
        <h2>Jobs</h2>
        <table id="jobs"><thead><tr><th>job</th><th>model</th><th>bits</th><th>seed</th><th>phase</th><th>pass/block</th>
        <th>evaluations</th><th>best loss</th><th>eval/s</th><th>workers</th><th>ETA</th></tr></thead><tbody></tbody></table>
        <h2>Results</h2>
        <p>Top-1 (%) on the validation data, mean ± std over seeds.</p>
        <table id="results"><thead><tr><th>model</th><th>weights</th><th>seeds</th><th>float top-1</th><th>FQ-ViT top-1</th>
        <th>Evol-Q top-1</th><th>Evol-Q - FQ-ViT</th></tr></thead><tbody></tbody></table>
        <h2>Accuracy</h2>
        <div id="chart"><img id="accuracy" alt="accuracy per model and bit width" hidden></div>
        <script>
        const id = {{Json(id)}};
        document.getElementById('sweep-id').textContent = id;
        let chartKey = '';
        poll('/api/sweeps/' + encodeURIComponent(id), d => {
          const s = d.sweep;
          text('summary', `${s.state}; ${s.jobs} jobs: ${s.done} done, ${s.running} running, ${s.waiting} waiting, ${s.failed} failed, ${s.cancelled} cancelled; elapsed ${duration(s.elapsedSeconds)}, ETA ${duration(s.etaSeconds)}; from ${d.source}`);
          fill('jobs', d.jobs, j => [link('/jobs/' + encodeURIComponent(j.id), j.id), j.model, j.bits, j.seed, j.phase,
            searching(j) ? `${j.pass + 1}/${j.block === null ? '-' : j.block}` : '-',
            j.evaluationsPlanned > 0 ? `${j.evaluationsDone}/${j.evaluationsPlanned}` : '-',
            fixed(j.bestLoss, 6), fixed(j.perSecond, 1), j.workers.length ? j.workers.join(', ') : '-', duration(j.etaSeconds)], j => j.id);
          fill('results', d.results, r => [r.model, r.weights, r.seeds, stat(r.float_top1), stat(r.fqvit_top1), stat(r.evolq_top1),
            signed(r.evolq_minus_fqvit)], r => r.model + ' ' + r.weights);
          // The chart is drawn by the node (ScottPlot); fetched again only when the table changed.
          const key = JSON.stringify(d.results);
          if (key !== chartKey && d.results.some(r => r.evolq_top1 || r.fqvit_top1 || r.float_top1)) {
            chartKey = key;
            const img = document.getElementById('accuracy');
            img.src = '/api/sweeps/' + encodeURIComponent(id) + '/accuracy.svg?' + Date.now();
            img.hidden = false;
          }
        });
        for (const action of ['cancel', 'resume', 'retry'])
          onAction(action, () => '/api/sweeps/' + encodeURIComponent(id) + '/' + action);
        </script>
        """);

    public static string Job(string id, string source, bool canAct) => Page($"Job {id}", source, $$"""
        <h1>Job <span id="job-id"></span></h1>
        {{(canAct ? """
        <p class="actions">Token <input id="token" type="password" autocomplete="off">
        <button id="retry-job">Retry this job</button> <span id="answer"></span></p>
        """ : "")}}
        <table id="job" class="properties"><tbody></tbody></table>
        <h2>Loss per block over passes</h2>
        <div id="chart"><img id="loss" alt="loss per block over passes" hidden></div>
        <h2>Population of the block under search</h2>
        <p id="population-note"></p>
        <table id="population"><thead><tr><th>rank</th><th>candidate</th><th>members</th><th>loss</th><th>origin</th></tr></thead><tbody></tbody></table>
        <h3>This visit so far</h3>
        <p>Every candidate told in the visit, in order: the block's scales at the start, then the children of each cycle.</p>
        <table id="history"><thead><tr><th>#</th><th>candidate</th><th>origin</th><th>loss</th><th>in the population</th></tr></thead><tbody></tbody></table>
        <h2>Block visits</h2>
        <table id="visits"><thead><tr><th>pass</th><th>block</th><th>initial loss</th><th>best loss</th><th>evaluations</th></tr></thead><tbody></tbody></table>
        <script>
        const id = {{Json(id)}};
        document.getElementById('job-id').textContent = id;
        let visitCount = -1;
        let sweepId = null;
        // A failed job runs again from its journaled state; the sweep manager refuses any other (its answer shows).
        onAction('retry-job', () => '/api/sweeps/' + encodeURIComponent(sweepId) + '/retry?job=' + encodeURIComponent(id));
        poll('/api/jobs/' + encodeURIComponent(id), j => {
          sweepId = j.sweep;
          const rows = [['sweep', link('/sweeps/' + encodeURIComponent(j.sweep), j.sweep)], ['model', j.model], ['bits', j.bits], ['seed', j.seed],
            ['phase', j.phase], ['pass', searching(j) ? j.pass + 1 : '-'], ['block', searching(j) && j.block !== null ? j.block + (j.blockName ? ` (${j.blockName})` : '') : '-'],
            ['evaluations', j.evaluationsPlanned ? `${j.evaluationsDone}/${j.evaluationsPlanned}` : '-'], ['workers', j.workers ?? '-'],
            ['model file', (j.modelFile
              ? `${j.modelFile} (${j.modelFileWritten ? 'written' : 'written when the job is done'})`
              : `${j.sweep}/models/${id}.evolq.safetensors under the models folder of the node whose worker finished the job (--models-dir; evolq run: its --out)`)
              + `; evolq sweep export ${j.sweep} --db writes it again from the results tables`]];
          for (const [name, value] of Object.entries(j.metrics)) rows.push([name, fixed(value, 6)]);
          if (j.error) rows.push(['error', j.error]);
          fill('job', rows, r => r, r => r[0]);
          text('population-note', j.populationSize
            ? `Block ${j.block} in pass ${j.pass + 1}: ${j.populationSize} members in rank order, best first; copies of one candidate share a row.`
            : searching(j) && j.block !== null
              ? `Block ${j.block} in pass ${j.pass + 1}: its scales at the visit's start are being evaluated; the population is their copies once that loss is known.`
              : 'No block is under search now.');
          fill('population', j.population, p => [p.firstRank === p.lastRank ? String(p.firstRank) : `${p.firstRank}-${p.lastRank}`,
            p.candidate, p.members, fixed(p.loss, 6), p.origin], p => p.candidate);
          fill('history', j.history, h => [h.order, h.candidate, h.origin, fixed(h.loss, 6), h.inPopulation ? 'yes' : 'no (dropped)'], h => h.candidate);
          fill('visits', j.visits, v => [v.pass + 1, v.block, fixed(v.initialLoss, 6), fixed(v.bestLoss, 6), v.evaluations], v => v.pass + '/' + v.block);
          if (j.visits.length >= 2 && j.visits.length !== visitCount) {
            visitCount = j.visits.length;
            const img = document.getElementById('loss');
            img.src = '/api/jobs/' + encodeURIComponent(id) + '/loss.svg?' + Date.now();
            img.hidden = false;
          }
        });
        </script>
        """);

    public static string Cluster(string source) => Page("Cluster", source, """
        <h1>Cluster</h1>
        <p id="self"></p>
        <h2>Members</h2>
        <table id="members"><thead><tr><th>address</th><th>status</th><th>roles</th><th>reachable</th><th>leader</th></tr></thead><tbody></tbody></table>
        <h2>Unreachable</h2>
        <p id="unreachable"></p>
        <h2>Workers</h2>
        <table id="workers"><thead><tr><th>worker</th><th>device</th><th>memory</th><th>queue</th><th>doing</th><th>jobs held</th></tr></thead><tbody></tbody></table>
        <script>
        poll('/api/cluster', c => {
          text('self', 'Seen from ' + c.selfAddress);
          fill('members', c.members, m => [m.address, m.status, m.roles.join(', '), m.reachable ? 'yes' : 'NO', m.leader ? 'leader' : ''], m => m.address);
          text('unreachable', c.unreachable.length ? c.unreachable.join(', ') : 'none');
          // Doing: the running jobs that send the worker work now; held: jobs it keeps prepared (perhaps idle ones).
          fill('workers', c.workers, w => [w.workerId, w.device, w.memoryBytes > 0 ? (w.memoryBytes / 1048576).toFixed(0) + ' MiB' : '-', w.queue,
            w.serving.length ? w.serving.map(t => span(link('/jobs/' + encodeURIComponent(t.job), t.job),
              ` ${t.phase}` + (t.pass === null ? '' : `, pass ${t.pass + 1}, block ${t.block === null ? '-' : t.block}`))) : 'idle',
            w.jobs.length ? w.jobs.map(j => link('/jobs/' + encodeURIComponent(j), j)) : 'none'], w => w.workerId);
        });
        </script>
        """);

    private static string Json(string value) => JsonSerializer.Serialize(value);

    private static string Page(string title, string source, string body) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{{WebUtility.HtmlEncode(title)}} · evolq</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
        nav a { margin-right: 1em; }
        table { border-collapse: collapse; margin: .5em 0 1em; }
        th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        table.properties td { text-align: left; }
        #chart img { max-width: 100%; border: 1px solid #eee; }
        #status { color: #888; font-size: 12px; }
        #status.stale { color: #b00; }
        </style></head>
        <body>
        <nav><a href="/">Sweeps</a><a href="/cluster">Cluster</a> <span id="source"></span> <span id="status"></span></nav>
        <script>
        document.getElementById('source').textContent = '(' + {{Json(source)}} + ')';
        // Polls url once a second and hands the JSON to draw; the status line says when it last worked.
        function poll(url, draw) {
          const status = document.getElementById('status');
          async function once() {
            try {
              const r = await fetch(url, { cache: 'no-store' });
              const body = await r.json();
              if (!r.ok) throw new Error(body.message || r.status);
              draw(body);
              status.textContent = 'updated ' + new Date().toLocaleTimeString();
              status.className = '';
            } catch (e) {
              status.textContent = 'not updated: ' + e.message;
              status.className = 'stale';
            }
            setTimeout(once, 1000);
          }
          once();
        }
        // Wires a button (absent on read-only pages) to POST to url() with the token field's value; the answer shows beside it.
        function onAction(buttonId, url) {
          const button = document.getElementById(buttonId);
          if (!button) return;
          button.addEventListener('click', async () => {
            const token = document.getElementById('token').value;
            const headers = token ? { 'Authorization': 'Bearer ' + token } : {};
            const r = await fetch(url(), { method: 'POST', headers });
            const body = await r.text();
            let message = body.trim();
            try { message = JSON.parse(body).message; } catch (e) { }
            text('answer', `${r.status}: ${message}`);
          });
        }
        // A job's pass and block mean something only while it searches (after its last pass the count is one past it),
        // as `evolq ctl` shows them.
        function searching(j) { return j.phase === 'searching' && j.pass !== null; }
        function text(id, value) { document.getElementById(id).textContent = value; }
        function span(...parts) { const s = document.createElement('span'); s.append(...parts); return s; }
        function link(href, label) { const a = document.createElement('a'); a.href = href; a.textContent = label; return a; }
        function fixed(x, digits) { return x === null || x === undefined ? '-' : x.toFixed(digits); }
        // A gain as the results table writes it (+0.00;-0.00;0.00): a sign, except on what rounds to zero.
        function signed(x) {
          if (x === null || x === undefined) return '-';
          const t = Math.abs(x).toFixed(2);
          return Number(t) === 0 ? t : (x > 0 ? '+' : '-') + t;
        }
        function stat(s) { return s === null ? '-' : s.n < 2 ? s.mean.toFixed(2) : `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}`; }
        function duration(seconds) {
          if (seconds === null || seconds === undefined) return '-';
          const t = Math.round(seconds), h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
          return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(s).padStart(2, '0');
        }
        // Replaces a table's body with one row per item; each row carries its key (data-key) for tests and links.
        function fill(id, items, cells, key) {
          const body = document.getElementById(id).tBodies[0];
          const rows = items.map(item => {
            const tr = document.createElement('tr');
            tr.dataset.key = key(item);
            for (const cell of cells(item)) {
              const td = document.createElement('td');
              if (Array.isArray(cell)) cell.forEach((c, i) => { if (i) td.append(', '); td.append(c); });
              else if (cell instanceof Node) td.append(cell);
              else td.textContent = cell === null || cell === undefined ? '-' : String(cell);
              if (typeof cell === 'number') td.className = 'n';
              tr.append(td);
            }
            return tr;
          });
          body.replaceChildren(...rows);
        }
        </script>
        {{body}}
        </body></html>
        """;
}
