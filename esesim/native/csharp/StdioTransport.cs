// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// TEST-ONLY (never shipped to Windows): the simulated fleet's IAgentTransport, frames on stdin and
// stdout instead of the named pipe. A frame is one kind byte, a 4-byte little-endian length and a
// UTF-8 payload: 'Q' a protocol request (the body the bootstrap relays), 'C' a control message of
// the simulation; every frame is answered with 'A'. At start the agent sends one 'H' (hello).
// esesim/agent/external.py is the other end. Console.Out is sent to stderr, so nothing the agent
// prints can break a frame. C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;

namespace EsentBackup.Agent.Simulation
{
    /// <summary>IAgentTransport over this process's stdin and stdout (the simulated host's end of the pipe).</summary>
    public sealed class StdioTransport : IAgentTransport
    {
        private const int MaxFrameBytes = 256 << 20;
        private readonly Stream input;
        private readonly Stream output;
        private readonly object writeLock = new object();
        private readonly Queue<TransportFrame> pushedBack = new Queue<TransportFrame>();

        public StdioTransport(Stream input, Stream output)
        {
            if (input == null)
                throw new ArgumentNullException("input");
            if (output == null)
                throw new ArgumentNullException("output");
            this.input = input;
            this.output = output;
        }

        /// <summary>The transport on the console's streams; Console.Out then writes to stderr.</summary>
        public static StdioTransport FromConsole()
        {
            StdioTransport transport = new StdioTransport(Console.OpenStandardInput(), Console.OpenStandardOutput());
            Console.SetOut(Console.Error);
            return transport;
        }

        /// <summary>Give a frame back: the next Receive returns it first (AgentMain reads the first one to learn the instance).</summary>
        public void PushBack(TransportFrame frame)
        {
            pushedBack.Enqueue(frame);
        }

        public TransportFrame Receive()
        {
            if (pushedBack.Count > 0)
                return pushedBack.Dequeue();
            byte[] head = ReadExactly(5);
            if (head == null)
                return null;  // stdin closed: the simulated host ended this agent
            char kind = (char)head[0];
            if (kind != 'Q' && kind != 'C')
                throw new IOException("unknown frame kind " + (int)head[0]);
            int length = BitConverter.ToInt32(LittleEndian(head, 1), 0);
            if (length < 0 || length > MaxFrameBytes)
                throw new IOException("frame length " + length + " out of range");
            byte[] payload = ReadExactly(length);
            if (payload == null)
                throw new IOException("stdin closed inside a frame");
            TransportFrame frame = new TransportFrame();
            frame.IsControl = kind == 'C';
            frame.Payload = payload;
            return frame;
        }

        public void Send(byte[] reply)
        {
            Write('A', reply);
        }

        /// <summary>The hello frame ('H'): the agent's pid and boot id, once it is ready for requests.</summary>
        public void SendHello(byte[] payload)
        {
            Write('H', payload);
        }

        private void Write(char kind, byte[] payload)
        {
            if (payload == null)
                throw new ArgumentNullException("payload");
            byte[] head = new byte[5];
            head[0] = (byte)kind;
            byte[] length = LittleEndian(BitConverter.GetBytes(payload.Length), 0);
            Buffer.BlockCopy(length, 0, head, 1, 4);
            lock (writeLock)
            {
                output.Write(head, 0, head.Length);
                output.Write(payload, 0, payload.Length);
                output.Flush();
            }
        }

        private static byte[] LittleEndian(byte[] bytes, int offset)
        {
            byte[] four = new byte[4];
            Buffer.BlockCopy(bytes, offset, four, 0, 4);
            if (!BitConverter.IsLittleEndian)
                Array.Reverse(four);
            return four;
        }

        private byte[] ReadExactly(int count)
        {
            byte[] buffer = new byte[count];
            int got = 0;
            while (got < count)
            {
                int n = input.Read(buffer, got, count - got);
                if (n <= 0)
                    return null;  // end of stream before the whole count
                got += n;
            }
            return buffer;
        }

        public void Dispose()
        {
            input.Dispose();
            output.Dispose();
        }
    }
}
