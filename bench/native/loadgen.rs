// A native fan-in load generator: the bench's throughput workload (fan-in, QoS 0
// or 1, one wildcard subscriber) without Node's per-packet cost on the load
// side, so that a broker faster than the JavaScript load generator can read is
// measured by its own limit, not by ours. Standard library only: one thread,
// non-blocking sockets under epoll (from the C library std links), each
// publisher writing what its window allows as one write, the subscriber's
// PUBACKs for one read as one write.
//
// It speaks the JavaScript load generator's protocol (bench/loadgen.mjs): JSON
// lines on stdout, `window-open` / `window-close` marks, then one result line
// with the same fields. The payload is bench/load/payload.mjs's (sequence u32 LE,
// publisher id u32 LE, then padding to 64 bytes).
//
//   loadgen PORT QOS PUBLISHERS WINDOW CAP WARMUP_MS MEASURE_MS RUN_ID [SUB_PORT]
//   (CAP: how far a publisher may run ahead of what the subscriber got from it;
//    0 = no bound, the open-loop scenarios.)
//
// Build: rustc -O -o bench/native/loadgen bench/native/loadgen.rs (scripts/bench-native.sh)
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

const PAYLOAD: usize = 64;

fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn mqtt_string(s: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    mqtt_string(b"MQTT", &mut body);
    body.push(4); // 3.1.1
    body.push(0x02); // clean session
    body.extend_from_slice(&60u16.to_be_bytes());
    mqtt_string(client_id.as_bytes(), &mut body);
    let mut p = vec![0x10];
    remaining_length(body.len(), &mut p);
    p.extend_from_slice(&body);
    p
}

fn subscribe_packet(filter: &str, qos: u8) -> Vec<u8> {
    let mut body = vec![0, 1];
    mqtt_string(filter.as_bytes(), &mut body);
    body.push(qos);
    let mut p = vec![0x82];
    remaining_length(body.len(), &mut p);
    p.extend_from_slice(&body);
    p
}

fn publish_packet(topic: &[u8], qos: u8, id: u16, seq: u32, publisher: u32, out: &mut Vec<u8>) {
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + PAYLOAD;
    out.push(0x30 | (qos << 1));
    remaining_length(len, out);
    mqtt_string(topic, out);
    if qos > 0 {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&publisher.to_le_bytes());
    out.extend_from_slice(&[0u8; PAYLOAD - 8]);
}

/** One complete packet at the front of `buf`: (first byte, header length, body length), or None. */
fn frame(buf: &[u8]) -> Option<(u8, usize, usize)> {
    if buf.is_empty() {
        return None;
    }
    let mut len = 0usize;
    let mut mul = 1usize;
    for i in 1..5 {
        let b = *buf.get(i)?;
        len += (b & 0x7f) as usize * mul;
        mul *= 128;
        if b & 0x80 == 0 {
            return if buf.len() >= 1 + i + len { Some((buf[0], 1 + i, len)) } else { None };
        }
    }
    panic!("malformed remaining length from the broker");
}

fn open(port: u16, client_id: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s.write_all(&connect_packet(client_id)).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert!(ack[0] == 0x20 && ack[3] == 0, "CONNACK refused: {:?}", ack);
    s
}

// epoll from the C library std already links (no crates).
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct EpollEvent {
    events: u32,
    data: u64,
}
extern "C" {
    fn epoll_create1(flags: i32) -> i32;
    fn epoll_ctl(epfd: i32, op: i32, fd: i32, event: *mut EpollEvent) -> i32;
    fn epoll_wait(epfd: i32, events: *mut EpollEvent, maxevents: i32, timeout: i32) -> i32;
}
const EPOLLIN: u32 = 0x1;
const EPOLLOUT: u32 = 0x4;
const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_MOD: i32 = 3;

/** One connection: its socket, what is left to write, what was read and not yet parsed. */
struct Conn {
    s: TcpStream,
    out: Vec<u8>,
    written: usize,
    inbuf: Vec<u8>,
    have: usize,
    wants_out: bool,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        s.set_nonblocking(true).unwrap();
        Conn { s, out: Vec::with_capacity(64 * 1024), written: 0, inbuf: vec![0u8; 1 << 20], have: 0, wants_out: false }
    }
    /** Writes what is pending; true when all of it left. */
    fn flush(&mut self) -> Result<bool, String> {
        while self.written < self.out.len() {
            match self.s.write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e.to_string()),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(true)
    }
    /** Reads what is there; false when the broker closed the connection. */
    fn fill(&mut self) -> Result<(), String> {
        loop {
            if self.have == self.inbuf.len() {
                return Ok(());
            }
            match self.s.read(&mut self.inbuf[self.have..]) {
                Ok(0) => return Err("the broker closed the connection".into()),
                Ok(n) => self.have += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    fn consumed(&mut self, at: usize) {
        self.inbuf.copy_within(at..self.have, 0);
        self.have -= at;
    }
}

struct Publisher {
    c: Conn,
    topic: Vec<u8>,
    seq: u32,
    packet_id: u16,
    inflight: u64,
    acked: u64,
}

/** What the subscriber got: per publisher a bitmap of sequence numbers and the next one expected. */
struct Tally {
    seen: Vec<Vec<u64>>,
    next: Vec<u32>,
    received: Vec<u64>,
    duplicates: u64,
    reordered: u64,
    unexpected: u64,
}

impl Tally {
    fn publish(&mut self, payload: &[u8]) {
        if payload.len() < 8 {
            self.unexpected += 1;
            return;
        }
        let seq = u32::from_le_bytes(payload[0..4].try_into().unwrap());
        let p = u32::from_le_bytes(payload[4..8].try_into().unwrap()) as usize;
        if p >= self.seen.len() {
            self.unexpected += 1;
            return;
        }
        let bits = &mut self.seen[p];
        let word = (seq / 64) as usize;
        if bits.len() <= word {
            bits.resize(word + 1024, 0);
        }
        let mask = 1u64 << (seq % 64);
        if bits[word] & mask != 0 {
            self.duplicates += 1;
            return;
        }
        bits[word] |= mask;
        if seq != self.next[p] {
            self.reordered += 1;
        }
        self.next[p] = seq + 1;
        self.received[p] += 1;
    }
    fn total(&self) -> u64 {
        self.received.iter().sum()
    }
}

fn watch(ep: i32, c: &mut Conn, token: u64, out: bool) {
    if c.wants_out == out {
        return;
    }
    c.wants_out = out;
    let mut ev = EpollEvent { events: EPOLLIN | if out { EPOLLOUT } else { 0 }, data: token };
    unsafe { epoll_ctl(ep, EPOLL_CTL_MOD, c.s.as_raw_fd(), &mut ev) };
}

/** This process's CPU seconds so far (user + system, from /proc/self/stat, in clock ticks of 1/100 s). */
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 9 && a.len() != 10 {
        eprintln!("usage: loadgen PORT QOS PUBLISHERS WINDOW CAP WARMUP_MS MEASURE_MS RUN_ID [SUB_PORT]");
        std::process::exit(2);
    }
    let port: u16 = a[1].parse().unwrap();
    let qos: u8 = a[2].parse().unwrap();
    let count: usize = a[3].parse().unwrap();
    let window: u64 = a[4].parse().unwrap();
    let cap: u64 = a[5].parse().unwrap();
    let warmup = Duration::from_millis(a[6].parse().unwrap());
    let measure = Duration::from_millis(a[7].parse().unwrap());
    let run = &a[8];
    let sub_port: u16 = a.get(9).map(|p| p.parse().unwrap()).unwrap_or(port);
    let base = format!("bench/{run}");

    let mut sub = open(sub_port, &format!("{run}-nsub"));
    sub.write_all(&subscribe_packet(&format!("{base}/in/+"), qos)).unwrap();
    let mut suback = [0u8; 5];
    sub.read_exact(&mut suback).unwrap();
    assert!(suback[0] == 0x90 && suback[4] < 0x80, "SUBACK refused: {:?}", suback);
    let mut sub = Conn::new(sub);
    let mut pubs: Vec<Publisher> = (0..count)
        .map(|p| Publisher { c: Conn::new(open(port, &format!("{run}-npub-{p}"))), topic: format!("{base}/in/{p}").into_bytes(), seq: 0, packet_id: 0, inflight: 0, acked: 0 })
        .collect();
    let ep = unsafe { epoll_create1(0) };
    assert!(ep >= 0, "epoll_create1");
    const SUB: u64 = u64::MAX;
    let mut ev = EpollEvent { events: EPOLLIN, data: SUB };
    unsafe { epoll_ctl(ep, EPOLL_CTL_ADD, sub.s.as_raw_fd(), &mut ev) };
    for (i, p) in pubs.iter_mut().enumerate() {
        let mut ev = EpollEvent { events: EPOLLIN, data: i as u64 };
        unsafe { epoll_ctl(ep, EPOLL_CTL_ADD, p.c.s.as_raw_fd(), &mut ev) };
    }
    let mut tally = Tally { seen: vec![Vec::new(); count], next: vec![0; count], received: vec![0; count], duplicates: 0, reordered: 0, unexpected: 0 };
    let mut errors: Vec<String> = Vec::new();
    let mut events = vec![EpollEvent { events: 0, data: 0 }; 64];

    let started = Instant::now();
    let accepted = |pubs: &Vec<Publisher>| -> u64 { pubs.iter().map(|p| if qos > 0 { p.acked } else { p.seq as u64 }).sum() };
    let mut opened: Option<(u64, u64, f64, Instant)> = None;
    let mut closed: Option<(u64, u64, f64, f64)> = None;
    let mut stopped_at: Option<Instant> = None;
    let mut last_progress = (0u64, Instant::now());
    let mut complete = false;
    loop {
        // The window's marks, and the end: every message sent delivered, or no progress for 5 s.
        let now = Instant::now();
        if opened.is_none() && now - started >= warmup {
            opened = Some((tally.total(), accepted(&pubs), cpu_seconds(), now));
            println!("{{\"type\":\"mark\",\"name\":\"window-open\"}}");
        }
        if let (Some(o), None) = (opened, closed) {
            if now - o.3 >= measure {
                closed = Some((tally.total(), accepted(&pubs), cpu_seconds(), (now - o.3).as_secs_f64()));
                println!("{{\"type\":\"mark\",\"name\":\"window-close\"}}");
                stopped_at = Some(now);
            }
        }
        if let Some(stop) = stopped_at {
            let inflight: u64 = pubs.iter().map(|p| p.inflight).sum();
            let sent: u64 = pubs.iter().map(|p| p.seq as u64).sum();
            if inflight == 0 && tally.total() >= sent {
                complete = true;
                break;
            }
            if tally.total() + accepted(&pubs) != last_progress.0 {
                last_progress = (tally.total() + accepted(&pubs), now);
            }
            if now - last_progress.1 > Duration::from_secs(5) || now - stop > Duration::from_secs(60) {
                break;
            }
        }
        // Publishers with room write: their window (QoS 1) or a batch (QoS 0), not more than `cap` ahead when paced.
        if stopped_at.is_none() {
            for (i, p) in pubs.iter_mut().enumerate() {
                if p.c.written < p.c.out.len() {
                    continue; // still writing the last batch
                }
                let allowance = if cap == 0 { u64::MAX } else { tally.received[i] + cap };
                let room = if qos > 0 { window - p.inflight } else { 64 };
                let mut n = 0;
                while n < room && (p.seq as u64) < allowance {
                    p.packet_id = if p.packet_id == 65535 { 1 } else { p.packet_id + 1 };
                    publish_packet(&p.topic, qos, p.packet_id, p.seq, i as u32, &mut p.c.out);
                    p.seq += 1;
                    n += 1;
                }
                if qos > 0 {
                    p.inflight += n;
                }
                match p.c.flush() {
                    Ok(done) => watch(ep, &mut p.c, i as u64, !done),
                    Err(e) => errors.push(format!("publisher {i}: {e}")),
                }
            }
        }
        if !errors.is_empty() {
            break;
        }
        // A QoS 0 publisher whose last write went out whole is ready again: then only look, do not wait.
        // Otherwise wait for the broker (acknowledgements, deliveries, or room in a socket: EPOLLOUT).
        let ready = qos == 0
            && stopped_at.is_none()
            && pubs.iter().enumerate().any(|(i, p)| p.c.written >= p.c.out.len() && (cap == 0 || (p.seq as u64) < tally.received[i] + cap));
        let timeout = if ready { 0 } else { 1 };
        let n = unsafe { epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, timeout) };
        for e in events.iter().take(n.max(0) as usize) {
            let token = e.data;
            if token == SUB {
                if let Err(err) = sub.fill() {
                    errors.push(format!("subscriber: {err}"));
                    continue;
                }
                let mut at = 0;
                while let Some((first, head, len)) = frame(&sub.inbuf[at..sub.have]) {
                    let body = &sub.inbuf[at + head..at + head + len];
                    if first >> 4 == 3 {
                        let tlen = u16::from_be_bytes([body[0], body[1]]) as usize;
                        let mut p = 2 + tlen;
                        if (first >> 1) & 3 > 0 {
                            sub.out.extend_from_slice(&[0x40, 2, body[p], body[p + 1]]);
                            p += 2;
                        }
                        tally.publish(&body[p..]);
                    }
                    at += head + len;
                }
                sub.consumed(at);
                match sub.flush() {
                    Ok(done) => watch(ep, &mut sub, SUB, !done),
                    Err(err) => errors.push(format!("subscriber: {err}")),
                }
            } else {
                let i = token as usize;
                let p = &mut pubs[i];
                if let Err(err) = p.c.fill() {
                    errors.push(format!("publisher {i}: {err}"));
                    continue;
                }
                let mut at = 0;
                while let Some((first, head, len)) = frame(&p.c.inbuf[at..p.c.have]) {
                    if first >> 4 == 4 && p.inflight > 0 {
                        p.inflight -= 1;
                        p.acked += 1;
                    }
                    at += head + len;
                }
                p.c.consumed(at);
                match p.c.flush() {
                    Ok(done) => watch(ep, &mut p.c, token, !done),
                    Err(err) => errors.push(format!("publisher {i}: {err}")),
                }
            }
        }
    }
    let stopped = stopped_at.unwrap_or_else(Instant::now);
    let drain_ms = stopped.elapsed().as_secs_f64() * 1000.0;
    let sent: u64 = pubs.iter().map(|p| p.seq as u64).sum();
    let got = tally.total();
    let inflight: u64 = pubs.iter().map(|p| p.inflight).sum();
    if inflight > 0 {
        errors.push(format!("{inflight} QoS 1 messages never acknowledged"));
    }
    if !complete {
        errors.push(format!("deliveries stopped at {got} of {sent}"));
    }
    let (o, c) = (opened.unwrap_or((0, 0, 0.0, started)), closed.unwrap_or((0, 0, 0.0, 1.0)));
    let window_s = c.3;
    let errors_json = errors.iter().map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "'"))).collect::<Vec<_>>().join(",");
    println!(
        "{{\"type\":\"result\",\"rate\":{},\"acceptedRate\":{},\"drainMs\":{},\"windowMs\":{},\"sent\":{},\"expected\":{},\"received\":{},\"lost\":{},\"duplicates\":{},\"reordered\":{},\"unexpected\":{},\"loadgenCpu\":{},\"errors\":[{}]}}",
        (c.0 - o.0) as f64 / window_s,
        (c.1 - o.1) as f64 / window_s,
        if complete { format!("{drain_ms}") } else { "null".into() },
        window_s * 1000.0,
        sent,
        sent,
        got + tally.duplicates,
        sent - got.min(sent),
        tally.duplicates,
        tally.reordered,
        tally.unexpected,
        (c.2 - o.2) / window_s,
        errors_json
    );
    // Errors are in the result (the orchestrator reports them in the cell); the run itself completed.
    std::process::exit(0);
}
