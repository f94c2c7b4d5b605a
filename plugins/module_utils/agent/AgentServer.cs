// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's serve loop: requests in, replies out, over one IAgentTransport (a named pipe on
// Windows, stdio or a socket in tests), for one AgentProcess. It plays the part the simulated
// host plays for the reference agent (esesim/agent/simhost.py: relay a request to agent.handle,
// end the process after a shutdown; AgentHost.tick: the leases, the workload and the idle exit).
//
// With a lease timer (Windows) a background timer runs the leases and the idle exit; the tests
// run without one and drive the agent with control frames of the simulated host instead:
//   {"control":"tick"}                  CheckLeases, WorkloadTick, ExitIfIdle -> {"alive": bool}
//   {"control":"view"}                  what esesim/agent/control.py shows of an agent (AgentProcess.View)
//   {"control":"settle","seconds":x}    wait up to x seconds for each copy's next state -> {}
// A Windows pipe never yields a control frame.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    public sealed class AgentServer : IDisposable
    {
        private readonly IAgentTransport _transport;
        private readonly int _leaseTimerMs;
        private readonly Stopwatch _tickClock = Stopwatch.StartNew();  // the workload's pace is real time (simhost's time.monotonic)
        private double _lastTick;
        private Timer _timer;
        private volatile bool _ended;

        /// <summary>The agent this server runs (created with the instance block of the first request: the bootstrap passes it).</summary>
        public readonly AgentProcess Agent;

        /// <param name="platform">The host (WindowsPlatform; SimPlatform in the simulation).</param>
        /// <param name="transport">Where requests come from (PipeTransport; stdio in the simulation).</param>
        /// <param name="route">The routing key of the instance.</param>
        /// <param name="instance">The instance block (null: learnt from the first request).</param>
        /// <param name="leaseTimerMs">How often a background timer runs the leases and the idle exit (0: none, the
        /// simulated host ticks the agent with control frames).</param>
        /// <param name="idleExitSeconds">How long the agent waits without a call before it exits when idle (no live
        /// session, no running copy, no workload: AgentProcess.Idle); it never exits while one of those exists.</param>
        /// <param name="pipe">The pipe name the agent records in its state file (null: a random name).</param>
        public AgentServer(IHostPlatform platform, IAgentTransport transport, string route, JsonObject instance, int leaseTimerMs,
                           double idleExitSeconds = AgentProcess.IdleExitSecondsDefault, string pipe = null)
        {
            if (!(idleExitSeconds > 0))
                throw new ArgumentOutOfRangeException("idleExitSeconds", "the idle exit is a positive number of seconds");
            _transport = transport;
            _leaseTimerMs = leaseTimerMs;
            Agent = new AgentProcess(platform, route, instance, pipe);
            Agent.IdleExitSeconds = idleExitSeconds;
        }

        /// <summary>Serve until the transport closes (Receive returns null) or the agent ended itself (shutdown, idle exit).</summary>
        public void Run()
        {
            if (_leaseTimerMs > 0)
                _timer = new Timer(OnTimer, null, _leaseTimerMs, _leaseTimerMs);
            try
            {
                while (!_ended)
                {
                    TransportFrame frame;
                    try
                    {
                        frame = _transport.Receive();
                    }
                    catch (Exception)
                    {
                        if (_ended)  // the timer ended the agent and closed the transport under Receive
                            break;
                        throw;
                    }
                    if (frame == null)
                        break;
                    byte[] reply = frame.IsControl ? Control(frame.Payload) : Request(frame.Payload);
                    try
                    {
                        _transport.Send(reply);
                    }
                    catch (Exception)
                    {
                        if (_ended)
                            break;
                        throw;
                    }
                    if (!Agent.Alive)
                    {
                        End();
                        break;
                    }
                }
            }
            finally
            {
                StopTimer();
            }
        }

        /// <summary>One protocol request. An exception no op turned into a reply (a bug, or the engine failing under the
        /// agent) still gets one, so the bootstrap never waits on a dead pipe.</summary>
        private byte[] Request(byte[] payload)
        {
            try
            {
                return Agent.Handle(payload);
            }
            catch (Exception exc)
            {
                AgentFailure failure = new AgentFailure(JetErrorCatalogue.CodeOf("JET_errInstanceUnavailable"),
                                                        "the agent failed: " + exc.GetType().Name + ": " + exc.Message);
                return Protocol.Encode(Protocol.ReplyError(failure.Code, failure.Name, failure.Message, failure.Hint, Agent.Identity(), failure.Result));
            }
        }

        /// <summary>The process exits after its reply (shutdown): as the simulated host does, kill the agent and remove its state file.</summary>
        private void End()
        {
            _ended = true;
            lock (Agent.Lock)
            {
                Agent.Kill();
                Agent.StateFile.Remove();
            }
        }

        /// <summary>One tick: the leases, the workload, the idle exit (simhost.AgentHost.tick for one agent).</summary>
        public bool Tick()
        {
            lock (Agent.Lock)
            {
                double now = _tickClock.Elapsed.TotalSeconds;
                double dt = Math.Min(now - _lastTick, 2.0);
                _lastTick = now;
                Agent.CheckLeases();
                Agent.WorkloadTick(dt);
                Agent.ExitIfIdle();
                return Agent.Alive;
            }
        }

        private void OnTimer(object state)
        {
            if (_ended)
                return;
            try
            {
                if (!Tick())
                {
                    _ended = true;
                    _transport.Dispose();  // Receive returns (or throws) and Run ends
                }
            }
            catch (Exception)
            {
                // a tick that fails is retried on the next one (the reference host's ticker does the same)
            }
        }

        private byte[] Control(byte[] payload)
        {
            JsonObject doc;
            try
            {
                doc = Json.Parse(System.Text.Encoding.UTF8.GetString(payload)) as JsonObject;
            }
            catch (JsonException exc)
            {
                return Protocol.Encode(new JsonObject().Add("error", "control: malformed JSON: " + exc.Message));
            }
            string control = doc != null ? doc["control"] as string : null;
            JsonObject answer;
            if (control == "tick")
            {
                answer = new JsonObject().Add("alive", Tick());
                if (!Agent.Alive)
                    _ended = true;  // idle exit: answer, then the loop ends
            }
            else if (control == "view")
            {
                answer = Agent.View();
            }
            else if (control == "settle")
            {
                double seconds = J.AsDouble(doc["seconds"], "seconds", 0.2);
                List<AgentCopy> copies;
                lock (Agent.Lock)
                    copies = new List<AgentCopy>(Agent.Copies.Values);
                foreach (AgentCopy copy in copies)  // outside the lock: the copies' threads take it
                    copy.Wait(seconds);
                answer = new JsonObject();
            }
            else
            {
                answer = new JsonObject().Add("error", "unknown control " + Py.Repr(control) + " (tick, view or settle)");
            }
            return Protocol.Encode(answer);
        }

        private void StopTimer()
        {
            Timer timer = _timer;
            _timer = null;
            if (timer != null)
                timer.Dispose();
        }

        public void Dispose()
        {
            StopTimer();
        }
    }
}
