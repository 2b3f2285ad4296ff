import ArgumentParser
import CMalloc
import Foundation
import Ledger
import LedgerAudit
import LedgerStore

/// A progress bar on a terminal, plain lines otherwise.
struct Progress {
    let label: String
    let isTTY = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private var printedFinal = false

    init(_ label: String) { self.label = label }

    mutating func update(_ done: UInt64, _ total: UInt64) {
        let now = Date()
        let finished = done >= total
        if printedFinal { return }
        if finished { printedFinal = true }
        if !finished && now.timeIntervalSince(lastLine) < (isTTY ? 0.1 : 2) { return }
        lastLine = now
        let pct = total == 0 ? 100 : Int(Double(done) / Double(total) * 100)
        if isTTY {
            let width = 30
            let filled = total == 0 ? width : Int(Double(width) * Double(done) / Double(total))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write("\r\(label) \(bar) \(pct)% \(done)/\(total) events".data(using: .utf8)!)
            if finished { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else {
            FileHandle.standardError.write("\(label): \(done)/\(total) events (\(pct)%)\n".data(using: .utf8)!)
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a new data dir holding the log up to a point and the views folded from it.")

    @Option(help: "Source data directory (may be in use by a running server).") var dataDir: String
    @Option(help: "Last sequence number to include (default, and without --to-time: the whole log).") var toSequence: UInt64?
    @Option(help: "Include every event at or before this RFC 3339 time.") var toTime: String?
    @Option(help: "New data directory to create.") var into: String

    func validate() throws {
        if toSequence != nil && toTime != nil { throw ValidationError("give at most one of --to-sequence and --to-time") }
        if let toTime, parseRFC3339(toTime) == nil { throw ValidationError("--to-time must be an RFC 3339 time, got \(toTime)") }
    }

    func run() throws {
        // As for verify: the fold allocates and frees on a malloc arena glibc would keep trimming.
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        // The journal only grows (690 MB at 100k events): a worker thread's arena
        // grows by mprotect in steps of M_TOP_PAD (128 KiB by default), thousands
        // of calls; in steps of 64 MiB, replay at 100k events took 10% less time.
        _ = mallopt(M_TOP_PAD, 64 << 20)
        let source = try LedgerStore(path: dataDir, readOnly: true, olderFormat: true)
        let target: ReplayTarget = toSequence.map { .sequence($0) } ?? toTime.map { .time(parseRFC3339($0)!) } ?? .end
        var progress = Progress("replay")
        let started = ContinuousClock.now
        var folded = started
        let n = try LogFold.replay(from: source, into: into, target: target, progress: { progress.update($0, $1) }, writing: {
            folded = ContinuousClock.now
            // Writing a large data dir takes a while after the bar is full: say what is going on.
            FileHandle.standardError.write("replay: writing \(into)\n".data(using: .utf8)!)
        })
        let fold = (folded - started).seconds, all = (ContinuousClock.now - started).seconds
        print("replayed \(n) events into \(into) (fold \(String(format: "%.2f", fold)) s, \(Int(Double(n) / max(fold, 1e-9)).formatted()) events/s; write \(String(format: "%.2f", all - fold)) s)")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold the whole log from scratch and compare with the stored views.")

    @Option(help: "Data directory (may be in use by a running server).") var dataDir = "./data"

    func run() throws {
        // The fold frees and allocates a consumer's allocations for every event on a
        // worker thread's malloc arena; glibc trims that arena's top and the next
        // events fault the pages back in (740k page faults for a 1.8M-event log;
        // its fold took 11-30 s, 5-6 s with this). A trim threshold above anything
        // verify frees keeps the pages.
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        let store = try LedgerStore(path: dataDir, readOnly: true, olderFormat: true)
        var progress = Progress("verify")
        var seconds = (fold: 0.0, compare: 0.0)
        var comparing = false
        let (n, diffs) = try LogFold.verify(store, progress: { done, total in
            progress.update(done, total)
            // The comparison of a large data dir takes as long as the fold: say what is going on.
            if done >= total && !comparing {
                comparing = true
                FileHandle.standardError.write("verify: comparing the fold with the stored views\n".data(using: .utf8)!)
            }
        }, timing: { seconds = ($0, $1) })
        if diffs.isEmpty {
            let rate = seconds.fold > 0 ? Int(Double(n) / seconds.fold) : 0
            print("verified \(n) events: the stored views equal the fold of the log "
                  + "(fold \(String(format: "%.2f", seconds.fold)) s, \(rate.formatted()) events/s; "
                  + "compare \(String(format: "%.2f", seconds.compare)) s)")
            return
        }
        for d in diffs { print(d) }
        print("\(diffs.count) differences after \(n) events")
        throw ExitCode(1)
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the event log.")

    enum Format: String, ExpressibleByArgument { case jsonl, table }

    @Option(help: "Data directory (may be in use by a running server).") var dataDir = "./data"
    @Option(help: "First sequence number to print.") var fromSequence: UInt64 = 1
    @Option(help: "Print at most this many events.") var limit: Int?
    @Option(help: "jsonl (one event per line) or table; default: table on a terminal.") var format: Format?

    func run() throws {
        let store = try LedgerStore(path: dataDir, readOnly: true, olderFormat: true)
        let fmt = format ?? (isatty(STDOUT_FILENO) != 0 ? .table : .jsonl)
        var count = 0
        if fmt == .table {
            print(pad("SEQ", 8) + pad("TIME", 29) + pad("ACTOR", 18) + pad("MV", 6) + pad("TYPE", 36) + "SUBJECT")
        }
        try store.forEachEvent(from: fromSequence) { ev in
            if let limit, count >= limit { return false }
            count += 1
            switch fmt {
            case .jsonl:
                print(String(decoding: try ev.encoded(), as: UTF8.self))
            case .table:
                let subject = (ev.payload.consumers.map { "consumer " + $0 } + Set(ev.payload.providers).sorted().map { "provider " + $0 })
                    .joined(separator: ", ")
                print(pad(String(ev.seq), 8) + pad(formatRFC3339(ev.time), 29) + pad(ev.context.actor.user, 18)
                      + pad(ev.context.microversion, 6) + pad(ev.payload.type, 36) + subject)
            }
            return true
        }
    }

}

/// Pads a table cell.
func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
}
