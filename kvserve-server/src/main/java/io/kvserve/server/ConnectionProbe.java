package io.kvserve.server;

import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;

/**
 * Tells whether the client of an exchange has closed its connection while its answer is not written
 * yet (a non-streaming request waiting in the queue or generating). The JDK's {@code HttpServer} gives
 * no such signal, and an unwritten response cannot be probed by writing; so, as uvicorn does for
 * vLLM, the probe reads the request's socket: end of stream or a reset means the client is gone. The
 * read is timed (a millisecond), on the request's own thread, while the server does not read that
 * connection (it reads the next request only after this one is answered).
 *
 * <p>The socket is reached through the JDK server's internals, which needs
 * {@code --add-opens jdk.httpserver/sun.net.httpserver=ALL-UNNAMED} (the {@code kvserve} launcher's jar
 * manifest and the test JVMs have it). Without it the probe says "connected" and a non-streaming client
 * that leaves is noticed only when its answer is written (one warning says so). If the client sends a
 * byte (a pipelined next request) the probe stops probing and the connection is closed after the answer,
 * because the byte is consumed.
 */
final class ConnectionProbe {
    private static final VarHandle IMPL, CONNECTION;
    private static final MethodHandle CHANNEL;
    private static final String UNAVAILABLE;
    private static volatile boolean warned;

    static {
        VarHandle impl = null, connection = null;
        MethodHandle channel = null;
        String why = null;
        try {
            Class<?> exchange = Class.forName("sun.net.httpserver.HttpExchangeImpl");
            Class<?> exchangeImpl = Class.forName("sun.net.httpserver.ExchangeImpl");
            Class<?> conn = Class.forName("sun.net.httpserver.HttpConnection");
            MethodHandles.Lookup ex = MethodHandles.privateLookupIn(exchange, MethodHandles.lookup());
            impl = ex.findVarHandle(exchange, "impl", exchangeImpl);
            connection = MethodHandles.privateLookupIn(exchangeImpl, MethodHandles.lookup()).findVarHandle(exchangeImpl, "connection", conn);
            channel = MethodHandles.privateLookupIn(conn, MethodHandles.lookup()).findVirtual(conn, "getChannel",
                    java.lang.invoke.MethodType.methodType(SocketChannel.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            why = e.toString();
        }
        IMPL = impl;
        CONNECTION = connection;
        CHANNEL = channel;
        UNAVAILABLE = why;
    }

    private final SocketChannel channel;
    private boolean gone;
    private boolean stopped;
    private long lastProbe;

    private ConnectionProbe(SocketChannel channel) {
        this.channel = channel;
        this.lastProbe = System.nanoTime();
    }

    /** A probe of {@code ex}'s connection (one that always says "connected" when the socket cannot be reached). */
    static ConnectionProbe of(HttpExchange ex) {
        SocketChannel ch = null;
        if (UNAVAILABLE == null && ex.getClass().getName().equals("sun.net.httpserver.HttpExchangeImpl")) {
            try {
                Object impl = IMPL.get(ex);
                Object conn = CONNECTION.get(impl);
                ch = (SocketChannel) CHANNEL.invoke(conn);
            } catch (Throwable e) {
                ch = null;
            }
        }
        if (ch == null && !warned) {
            warned = true;
            System.err.println("kvserve: cannot watch client connections (" + (UNAVAILABLE != null ? UNAVAILABLE : "not the JDK server's exchange")
                    + "); a non-streaming client that disconnects is noticed only when its answer is written."
                    + " Run the JVM with --add-opens jdk.httpserver/sun.net.httpserver=ALL-UNNAMED (the kvserve launcher does)");
        }
        return new ConnectionProbe(ch);
    }

    /** True at most once every {@code millis} ms, the first time {@code millis} after the probe was made: time to probe again. */
    boolean due(long millis) {
        long now = System.nanoTime();
        if (now - lastProbe < millis * 1_000_000L) return false;
        lastProbe = now;
        return true;
    }

    /** Whether this probe can see the connection at all. */
    boolean watching() {
        return channel != null && !stopped;
    }

    /** True once the client closed or reset the connection; at most about a millisecond of waiting. */
    boolean clientGone() {
        if (gone) return true;
        if (channel == null || stopped) return false;
        try {
            if (!channel.isOpen() || !channel.isBlocking()) return false;
            Socket s = channel.socket();
            int timeout = s.getSoTimeout();
            s.setSoTimeout(1);
            try {
                InputStream in = s.getInputStream();   // not closed here: closing it would close the socket
                int b = in.read();
                if (b < 0) gone = true;
                else stopped = true;                   // a pipelined request's first byte: consumed, stop probing
            } catch (SocketTimeoutException alive) {
                // nothing sent, nothing closed
            } finally {
                if (!gone) s.setSoTimeout(timeout);
            }
        } catch (IOException e) {
            gone = true;                               // reset by the peer
        }
        return gone;
    }

    /** Whether probing consumed a byte of a next request: the connection must close after this answer. */
    boolean consumedInput() {
        return stopped;
    }
}
