using System.Globalization;
using System.Text.Json;
using EvolQ.Cli.Tests.Sweep;
using EvolQ.Testing;
using Microsoft.Playwright;

namespace EvolQ.Cli.Tests.Dashboard;

/// <summary>
/// The web dashboard in a real browser (Debian's chromium, headless, driven by Playwright) against `evolq run` on a
/// tiny sweep, then against `evolq dashboard --db` on the database the run left.
/// </summary>
[Trait("Category", "Slow")]
public sealed class DashboardBrowserTests
{
    /// <summary>Where Debian's chromium package puts the browser (build.sh installs it).</summary>
    public const string Chromium = "/usr/lib/chromium/chromium";

    private const string Token = "dashboard-token";
    private const string SweepId = "dash";
    private const int Population = 8;
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task The_pages_update_live_refuse_a_cancel_or_retry_without_the_token_and_show_the_numbers_of_sweep_results()
    {
        using var dir = new TempDirectory("evolq-dashboard");
        // Enough search (6 passes over 4 blocks, 3 cycles) that the jobs still search while the cluster and job pages
        // are looked at.
        var file = dir.File("dash.conf");
        File.WriteAllText(file, SweepTestNode.SweepText(SweepId, seeds: "[0, 1]", passes: 6, cycles: 3, population: Population));
        var database = dir.File("journal.db");
        var dashboardPort = Loopback.FreePort();
        using var run = ChildProcess.Start(Evolq.Executable, ["run", file, "--db", database, "--out", dir.File("out"), "--dashboard-port", Port(dashboardPort)], new Dictionary<string, string?>
        {
            ["EVOLQ_CTL_TOKEN"] = Token,
            ["EVOLQ_CTL_PORT"] = Port(Loopback.FreePort()),
            ["EVOLQ_HTTP_PORT"] = null,
            ["EVOLQ_LOG_LEVEL"] = null,
            ["EVOLQ_MODELS_DIR"] = null,
        });
        await run.WaitForOutput($"dashboard on http://127.0.0.1:{dashboardPort}/sweeps/{SweepId}", Long);
        var live = $"http://127.0.0.1:{dashboardPort}";

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Launch(playwright);
        var page = await browser.NewPageAsync();

        // The sweep: the job table changes while the jobs search, without the page reloading (the marker survives).
        await page.GotoAsync($"{live}/sweeps/{SweepId}");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");
        await WaitForText(page, "#jobs tbody", "searching");
        var before = await page.InnerTextAsync("#jobs tbody");
        await page.WaitForFunctionAsync("before => document.querySelector('#jobs tbody').innerText !== before", before, new() { Timeout = 60_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), "The page reloaded instead of updating itself.");
        Assert.Equal(2, await page.Locator("#jobs tbody tr").CountAsync());
        // The sweep's ETA from the searching jobs' rate, before any job is done.
        await page.WaitForFunctionAsync("() => /ETA \\d+:\\d\\d/.test(document.querySelector('#summary').innerText)", null, new() { Timeout = 60_000 });
        Assert.Contains("0 done", await page.InnerTextAsync("#summary"), StringComparison.Ordinal);

        // Cancel without the token: the node refuses (401) and the sweep goes on.
        await page.ClickAsync("#cancel");
        await WaitForText(page, "#answer", "401");
        await page.WaitForTimeoutAsync(1500);
        Assert.StartsWith("running;", await page.InnerTextAsync("#summary"), StringComparison.Ordinal);

        // The cluster while the jobs search: each worker says which job it evaluates for and where that job stands.
        var jobId = $"{SweepId}.vit_tiny_patch7_28.w4a8.s0";
        await page.GotoAsync($"{live}/cluster");
        await WaitForText(page, "#workers tbody", $"{jobId} searching, pass ");
        await WaitForText(page, "#workers tbody", $"{SweepId}.vit_tiny_patch7_28.w4a8.s1 searching, pass ");

        // A job: its properties, and the population of its block while it searches.
        await page.GotoAsync($"{live}/jobs/{jobId}");
        await WaitForText(page, "#job tbody", "vit_tiny_patch7_28");
        // Its workers by name, and the exact file its model goes to (written once it is done: checked after the run).
        await WaitForText(page, "#job tbody", "/cpu#");
        var modelFile = Path.Combine(dir.File("out"), SweepId, "models", jobId + ".evolq.safetensors");
        Assert.Contains($"{modelFile} (written when the job is done)", await page.InnerTextAsync("#job tbody"), StringComparison.Ordinal);
        // The population: μ members in rank order, the copies of the visit's start grouped in one row; and the
        // visit's history, its start first.
        await WaitForText(page, "#population-note", $"{Population} members in rank order");
        var members = await page.Locator("#population tbody tr td:nth-child(3)").AllInnerTextsAsync();
        Assert.Equal(Population, members.Sum(m => int.Parse(m, CultureInfo.InvariantCulture)));
        Assert.Contains("the visit's start", await page.InnerTextAsync("#population tbody"), StringComparison.Ordinal);
        await WaitForText(page, "#history tbody", "the visit's start");
        Assert.Equal("1", await page.Locator("#history tbody tr").First.Locator("td").First.InnerTextAsync());
        // Its finished block visits come in as it searches (the first within a few seconds of the search's start).
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#visits tbody tr').length > 0", null, new() { Timeout = 60_000 });
        // Its Retry button: refused without the token; with it, the sweep manager's answer (only failed jobs run again).
        await page.ClickAsync("#retry-job");
        await WaitForText(page, "#answer", "401");
        await page.FillAsync("#token", Token);
        await page.ClickAsync("#retry-job");
        await WaitForText(page, "#answer", "409");
        Assert.Contains($"Job '{jobId}' is", await page.InnerTextAsync("#answer"), StringComparison.Ordinal);
        Assert.Contains("not failed", await page.InnerTextAsync("#answer"), StringComparison.Ordinal);

        // The cluster: this node, Up, with its roles, and its CPU worker.
        await page.GotoAsync($"{live}/cluster");
        await WaitForText(page, "#members tbody", "Up");
        Assert.Contains("coordinator", await page.InnerTextAsync("#members tbody"), StringComparison.Ordinal);
        await WaitForText(page, "#workers tbody", "cpu");
        Assert.Equal("none", await page.InnerTextAsync("#unreachable"));

        Assert.Equal(0, await run.WaitForExit(Long));
        Assert.Contains($"sweep {SweepId} done: 2 jobs done", run.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(modelFile), $"The job page named {modelFile}, which the run did not write.");

        // The database's dashboard, read-only: the list, the sweep's results equal to `evolq sweep results --format json`.
        var readOnlyPort = Loopback.FreePort();
        using var dashboard = ChildProcess.Start(Evolq.Executable, ["dashboard", "--db", database, "--port", Port(readOnlyPort)]);
        await dashboard.WaitForOutput($"Dashboard on http://127.0.0.1:{readOnlyPort}/", Long);
        var stored = $"http://127.0.0.1:{readOnlyPort}";
        await page.GotoAsync(stored + "/");
        await WaitForText(page, "#sweeps tbody", "done");
        Assert.Contains("tiny dash", await page.InnerTextAsync("#sweeps tbody"), StringComparison.Ordinal);

        await page.GotoAsync($"{stored}/sweeps/{SweepId}");
        await WaitForText(page, "#results tbody", "W4A8");
        var cells = await page.Locator("#results tbody tr").First.Locator("td").AllInnerTextsAsync();
        var results = Cli.Run("sweep", "results", SweepId, "--db", database, "--format", "json");
        results.AssertSuccess();
        using var json = JsonDocument.Parse(results.Output);
        var row = Assert.Single(json.RootElement.GetProperty("rows").EnumerateArray().ToArray());
        Assert.Equal(row.GetProperty("model").GetString(), cells[0]);
        Assert.Equal(row.GetProperty("weights").GetString(), cells[1]);
        Assert.Equal(row.GetProperty("seeds").GetInt32().ToString(CultureInfo.InvariantCulture), cells[2]);
        Assert.Equal(Stat(row.GetProperty("float_top1")), cells[3]);
        Assert.Equal(Stat(row.GetProperty("fqvit_top1")), cells[4]);
        Assert.Equal(Stat(row.GetProperty("evolq_top1")), cells[5]);
        Assert.Equal(Signed(row.GetProperty("evolq_minus_fqvit").GetDouble()), cells[6]);
        // The accuracy chart is the node's ScottPlot SVG.
        await page.WaitForSelectorAsync("#accuracy:not([hidden])");
        Assert.Contains("<svg", await (await page.APIRequest.GetAsync($"{stored}/api/sweeps/{SweepId}/accuracy.svg")).TextAsync(), StringComparison.Ordinal);
        Assert.Contains("Read-only", await page.InnerTextAsync("body"), StringComparison.Ordinal);

        await dashboard.Signal("INT");
        Assert.Equal(0, await dashboard.WaitForExit(Long));
    }

    /// <summary>Debian's chromium, headless; a missing browser fails the test with what to install, never skips it.</summary>
    internal static async Task<IBrowser> Launch(IPlaywright playwright)
    {
        Assert.True(File.Exists(Chromium), $"The dashboard's browser tests need Debian's chromium at {Chromium}: apt-get install -y chromium (./build.sh test installs it).");
        return await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true });
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task WaitForText(IPage page, string selector, string text)
    {
        try
        {
            await page.WaitForFunctionAsync("([s, t]) => (document.querySelector(s)?.innerText ?? '').includes(t)", new[] { selector, text }, new() { Timeout = 60_000 });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"'{text}' did not appear in {selector} within 60 s; the page shows:\n{await page.InnerTextAsync("body")}");
        }
    }

    private static string Stat(JsonElement stat) => string.Create(CultureInfo.InvariantCulture,
        $"{stat.GetProperty("mean").GetDouble():0.00} ± {stat.GetProperty("std").GetDouble():0.00}");

    // The results table's form of a gain (ResultsTable): what rounds to zero has no sign.
    private static string Signed(double value) => value.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
}
