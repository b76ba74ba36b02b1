using System.CommandLine;
using System.Globalization;
using EvolQ.Web;
using EvolQ.Web.Dashboard;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq dashboard --db FILE`: the web dashboard of a results database with no cluster, read-only (cancel and resume
/// are refused), until Ctrl+C; a run writing to the same database shows up as it goes.
/// </summary>
public static class DashboardCommand
{
    /// <summary>The dashboard's port when none is given (the node's HTTP port).</summary>
    public const int DefaultPort = 9180;

    public static Command Create(CommandConsole console)
    {
        var database = new Option<string>("--db")
        {
            Description = "The results database: a SQLite file (runs/evolq.db after evolq run) or a postgres:// URI (password from $EVOLQ_DB_PASSWORD).",
            Required = true,
        };
        var host = new Option<string>("--host") { Description = "The address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "The port (0: a free one).", DefaultValueFactory = _ => DefaultPort };
        var command = new Command("dashboard", "Serves the web dashboard of a results database (read-only, no cluster) until Ctrl+C.") { database, host, port };
        command.SetAction(parse =>
        {
            var chosen = parse.GetValue(port);
            if (chosen is < 0 or > 65535)
                throw new UserInputException($"--port is {chosen.ToString(CultureInfo.InvariantCulture)}, not a port number.");
            // Reading the sweeps once checks the database before anything listens.
            var results = SweepCommand.FromDatabase(parse.GetValue(database)!, r =>
            {
                r.ListSweeps();
                return r;
            });
            using var stop = new StopSignal();
            // A SQLite file by the name the user gave; a server by its redacted connection string (no password on the page).
            var source = new DatabaseDashboardSource(results, results.Database.IsPostgres ? null : parse.GetValue(database));
            var options = new WebSiteOptions(parse.GetValue(host)!, chosen, TimeSpan.FromSeconds(5), 256, Environment.GetEnvironmentVariable("EVOLQ_CTL_TOKEN") ?? "");
            var site = WebSite.StartAsync(options, "dashboard (--host, --port)", app => DashboardRoutes.Map(app, source)).GetAwaiter().GetResult();
            try
            {
                console.Output.WriteLine($"Dashboard on http://{options.Hostname}:{site.Port.ToString(CultureInfo.InvariantCulture)}/ ({source.Describe}). Ctrl+C stops.");
                stop.Token.WaitHandle.WaitOne();
                return 0;
            }
            finally
            {
                site.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        });
        return command;
    }
}
