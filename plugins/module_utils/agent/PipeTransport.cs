// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's transport on Windows: one named pipe (NamedPipeServerStream), the bootstrap's other end
// (plugins/plugin_utils/_bootstrap.py: NamedPipeClientStream, Connect(10000), one request, one reply).
// One client at a time, one request per connection: a 4-byte little-endian length, then that many
// bytes of UTF-8 JSON; the reply goes back framed the same way, then the connection ends
// (docs/dev/windows-facts.md section 4.4). The pipe's DACL is protected (nothing inherited) and
// grants SYSTEM full control and Administrators and the launching user read/write, and nothing to
// anyone else: the default pipe DACL would let Everyone read. "Read/write" for a client includes
// FILE_CREATE_PIPE_INSTANCE (PipeAccessRights.CreateNewInstance, the same bit as FILE_APPEND_DATA):
// the bootstrap's NamedPipeClientStream(..., InOut) opens with GENERIC_READ | GENERIC_WRITE, and a
// named pipe's GENERIC_WRITE maps to FILE_GENERIC_WRITE, which includes FILE_APPEND_DATA; without
// that bit the open is denied. It lets no one else serve the name while the agent holds it: the
// pipe allows one instance (a second CreateNamedPipe of the name fails), and with one instance
// .NET creates it with FILE_FLAG_FIRST_PIPE_INSTANCE (dotnet/runtime's NamedPipeServerStream does;
// the Framework's is to be confirmed on a host), so the agent fails rather than join a name
// someone else created first. No deny entry for
// NETWORK: the agent's own callers come through WinRM with network-logon tokens. Against
// squatting: a random GUID name recorded in the state file in an Administrators-only folder, one
// instance, and the bootstrap refuses a reply whose identity (pid, boot id) is not the state file's.
// Every wait on a client has a deadline, so a client that connects and then stalls cannot wedge the
// agent; Dispose from another thread ends a pending Receive (it returns null).
// .NET Framework only: PowerShell 7 would need NamedPipeServerStreamAcl.Create; the launcher runs
// Windows PowerShell 5.1 (powershell.exe). C# 5 only.
using System;
using System.IO;
using System.IO.Pipes;
using System.Security.AccessControl;
using System.Security.Principal;
using System.Threading;

namespace EsentBackup.Agent
{
    /// <summary>IAgentTransport over a named pipe: Receive waits for the next connection and returns its one request.</summary>
    public sealed class PipeTransport : IAgentTransport
    {
        /// <summary>The largest request accepted (a request is a few KB of JSON; a larger length is a stray client).</summary>
        public const int MaxRequestBytes = 16 * 1024 * 1024;

        /// <summary>How long a connected client may take to send its request, to read the reply and to hang up.</summary>
        public const int ClientTimeoutMs = 30000;

        private const int BufferBytes = 64 * 1024;

        private readonly string pipeName;
        private readonly NamedPipeServerStream pipe;
        private readonly object gate = new object();
        private volatile bool disposed;
        private bool connected;

        /// <summary>Create the pipe \\.\pipe\&lt;name&gt; (e.g. esent.backup-&lt;random&gt;) with its DACL; no client yet.</summary>
        public PipeTransport(string name)
        {
            if (String.IsNullOrEmpty(name) || name.Length > 200 || name.IndexOf('\\') >= 0 || name.IndexOf('/') >= 0)
                throw new ArgumentException("a pipe name is 1 to 200 characters without slashes", "name");
            pipeName = name;
            pipe = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.Asynchronous,
                BufferBytes, BufferBytes, Security());
        }

        /// <summary>The pipe's name (without \\.\pipe\), as the state file records it.</summary>
        public string PipeName { get { return pipeName; } }

        /// <summary>What Administrators and the launching user may do: connect, read and write (ClientRights).</summary>
        public const PipeAccessRights ClientRights = PipeAccessRights.ReadWrite | PipeAccessRights.CreateNewInstance | PipeAccessRights.Synchronize;

        /// <summary>SYSTEM: full control; Administrators and the launching user (this process's user): ClientRights;
        /// nobody else; protected (nothing inherited).</summary>
        public static PipeSecurity Security()
        {
            using (WindowsIdentity me = WindowsIdentity.GetCurrent())
                return Security(me.User);
        }

        /// <summary>The pipe's security for that launching user (the tests pass a SID: the rules are checked under mono).</summary>
        public static PipeSecurity Security(SecurityIdentifier launchingUser)
        {
            if (launchingUser == null)
                throw new ArgumentNullException("launchingUser");
            PipeSecurity security = new PipeSecurity();
            security.SetAccessRuleProtection(true, false);
            security.AddAccessRule(new PipeAccessRule(new SecurityIdentifier(WellKnownSidType.LocalSystemSid, null),
                PipeAccessRights.FullControl, AccessControlType.Allow));
            security.AddAccessRule(new PipeAccessRule(new SecurityIdentifier(WellKnownSidType.BuiltinAdministratorsSid, null),
                ClientRights, AccessControlType.Allow));
            security.AddAccessRule(new PipeAccessRule(launchingUser, ClientRights, AccessControlType.Allow));
            return security;
        }

        /// <summary>The next request: waits for a client, reads its framed request. A client that hangs up, sends a bad
        /// length or stalls is dropped and the next one awaited. Null once the transport is disposed.</summary>
        public TransportFrame Receive()
        {
            while (!disposed)
            {
                EndConnection();
                if (!WaitForClient())
                    continue;
                byte[] header = ReadExactly(4);
                if (header == null)
                    continue;
                int length = header[0] | (header[1] << 8) | (header[2] << 16) | (header[3] << 24);
                if (length < 0 || length > MaxRequestBytes)
                    continue;
                byte[] payload = length == 0 ? new byte[0] : ReadExactly(length);
                if (payload == null)
                    continue;
                TransportFrame frame = new TransportFrame();
                frame.IsControl = false;
                frame.Payload = payload;
                return frame;
            }
            return null;
        }

        /// <summary>Send the reply to the request last received, wait until the client hung up (so it has read it all:
        /// disconnecting earlier would discard unread bytes), then end the connection.</summary>
        public void Send(byte[] reply)
        {
            if (reply == null)
                throw new ArgumentNullException("reply");
            lock (gate)
            {
                if (disposed || !connected)
                    return;   // the client is gone: nobody to answer (its bootstrap reports the broken pipe)
            }
            byte[] framed = new byte[4 + reply.Length];
            framed[0] = (byte)reply.Length;
            framed[1] = (byte)(reply.Length >> 8);
            framed[2] = (byte)(reply.Length >> 16);
            framed[3] = (byte)(reply.Length >> 24);
            Buffer.BlockCopy(reply, 0, framed, 4, reply.Length);
            try
            {
                IAsyncResult write = pipe.BeginWrite(framed, 0, framed.Length, null, null);
                if (!Await(write))
                    return;
                pipe.EndWrite(write);
                // The client reads the reply, then disposes its end: a read here ends with 0 bytes then.
                byte[] rest = new byte[1];
                while (true)
                {
                    IAsyncResult read = pipe.BeginRead(rest, 0, 1, null, null);
                    if (!Await(read))
                        return;
                    if (pipe.EndRead(read) <= 0)
                        return;
                }
            }
            catch (IOException)
            {
                // Broken pipe: the client hung up (after reading, or not): nothing more to do.
            }
            catch (ObjectDisposedException)
            {
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                EndConnection();
            }
        }

        public void Dispose()
        {
            lock (gate)
            {
                if (disposed)
                    return;
                disposed = true;
            }
            // Closing the handle completes a pending wait or read with an error: Receive then returns null.
            pipe.Dispose();
        }

        // -- helpers --------------------------------------------------------------------------------------

        /// <summary>Wait for the next client (no deadline: the agent idles here); false when none connected.</summary>
        private bool WaitForClient()
        {
            try
            {
                IAsyncResult wait = pipe.BeginWaitForConnection(null, null);
                // Closing the pipe completes the wait with an error; the poll is only a second line of defence.
                while (!wait.AsyncWaitHandle.WaitOne(1000))
                    if (disposed)
                        return false;
                pipe.EndWaitForConnection(wait);
                lock (gate)
                    connected = !disposed;
                return connected;
            }
            catch (IOException)
            {
                return false;   // a client that connected and hung up at once, or the pipe closing
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }

        /// <summary>count bytes from the client, within ClientTimeoutMs; null when it hung up or stalled.</summary>
        private byte[] ReadExactly(int count)
        {
            byte[] data = new byte[count];
            int have = 0;
            try
            {
                while (have < count)
                {
                    IAsyncResult read = pipe.BeginRead(data, have, count - have, null, null);
                    if (!Await(read))
                        return null;
                    int n = pipe.EndRead(read);
                    if (n <= 0)
                        return null;
                    have += n;
                }
                return data;
            }
            catch (IOException)
            {
                return null;
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        /// <summary>Wait for an operation on the pipe; past the deadline cancel it (CancelIoEx), so no read stays pending
        /// into the next client's connection, and return false.</summary>
        private bool Await(IAsyncResult operation)
        {
            if (operation.IsCompleted || operation.AsyncWaitHandle.WaitOne(ClientTimeoutMs))
                return true;
            try
            {
                if (!disposed)
                    Win32.CancelIoEx(pipe.SafePipeHandle, IntPtr.Zero);
                operation.AsyncWaitHandle.WaitOne(ClientTimeoutMs);
            }
            catch (ObjectDisposedException)
            {
            }
            return false;
        }

        /// <summary>Disconnect the current client, if any (a new one can then connect to the same instance).</summary>
        private void EndConnection()
        {
            lock (gate)
            {
                if (!connected || disposed)
                {
                    connected = false;
                    return;
                }
                connected = false;
                try
                {
                    pipe.Disconnect();
                }
                catch (IOException)
                {
                }
                catch (InvalidOperationException)
                {
                    // includes ObjectDisposedException
                }
            }
        }
    }
}
