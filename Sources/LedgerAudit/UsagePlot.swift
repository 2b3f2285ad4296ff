import Foundation
import Ledger

/// An SVG plot of a provider's usage against capacity over time: one panel
/// per resource class, usage as a filled step line, capacity as a dashed one.
public enum UsagePlot {
    public static func svg(provider: String, name: String?, points: [Audit.ProviderPoint], now: Micros) -> String {
        let classes = StandardResourceClasses.sortedByID(Array(Set(points.flatMap { $0.capacity.keys })))
        let width = 900.0, panelHeight = 180.0, left = 70.0, right = 20.0, top = 56.0, gap = 46.0
        let height = top + Double(max(classes.count, 1)) * (panelHeight + gap) + 10
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="16" font-weight="bold">Usage and capacity of \(escape(name ?? provider))</text>
        <text x="\(left)" y="40" fill="#555">\(escape(provider)) · \(points.count) changes\(points.first.map { " from " + formatRFC3339($0.event.time) } ?? "")</text>

        """
        guard let first = points.first, !classes.isEmpty else {
            return out + "<text x=\"\(left)\" y=\"\(top + 20)\">No inventory in this period.</text>\n</svg>\n"
        }
        let t0 = Double(first.event.time)
        let t1 = max(Double(now), Double(points.last!.event.time), t0 + 1)
        let plotWidth = width - left - right
        func x(_ t: Micros) -> Double { left + (Double(t) - t0) / (t1 - t0) * plotWidth }
        for (i, rc) in classes.enumerated() {
            let y0 = top + Double(i) * (panelHeight + gap) + 16
            // Ticks at quarters of the largest value; the panel 10% taller than it.
            let highest = max(1, points.map { max(Double($0.usages[rc] ?? 0), $0.capacity[rc] ?? 0) }.max() ?? 1)
            let maxValue = highest * 1.1
            func y(_ v: Double) -> Double { y0 + panelHeight - v / maxValue * panelHeight }
            out += "<text x=\"\(left)\" y=\"\(y0 - 4)\" font-weight=\"bold\">\(escape(rc))</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#ccc\"/>\n"
            for tick in 0...4 {
                let v = highest * Double(tick) / 4
                out += "<text x=\"\(left - 6)\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\" fill=\"#555\">\(tickLabel(v))</text>\n"
                out += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(fmt(y(v)))\" y2=\"\(fmt(y(v)))\" stroke=\"#eee\"/>\n"
            }
            var usage = "M \(fmt(x(first.event.time))) \(fmt(y(0)))"
            var capacity = ""
            var lastU = 0.0, lastC: Double?
            for pt in points {
                let u = Double(pt.usages[rc] ?? 0)
                let c = pt.capacity[rc]
                usage += " L \(fmt(x(pt.event.time))) \(fmt(y(lastU))) L \(fmt(x(pt.event.time))) \(fmt(y(u)))"
                if let c {
                    capacity += (lastC == nil ? " M" : " L \(fmt(x(pt.event.time))) \(fmt(y(lastC!))) L") + " \(fmt(x(pt.event.time))) \(fmt(y(c)))"
                }
                lastU = u
                lastC = c
            }
            usage += " L \(fmt(x(Micros(t1)))) \(fmt(y(lastU))) L \(fmt(x(Micros(t1)))) \(fmt(y(0))) Z"
            if let lastC { capacity += " L \(fmt(x(Micros(t1)))) \(fmt(y(lastC)))" }
            out += "<path d=\"\(usage)\" fill=\"#4a90d9\" fill-opacity=\"0.35\" stroke=\"#2a6db5\" stroke-width=\"1.5\"/>\n"
            out += "<path d=\"\(capacity)\" fill=\"none\" stroke=\"#d9534f\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n"
            out += "<text x=\"\(left + plotWidth - 4)\" y=\"\(y0 + 14)\" text-anchor=\"end\" fill=\"#2a6db5\">used \(label(lastU))</text>\n"
            out += "<text x=\"\(left + plotWidth - 4)\" y=\"\(y0 + 28)\" text-anchor=\"end\" fill=\"#d9534f\">capacity \(lastC.map(label) ?? "none")</text>\n"
            out += "<text x=\"\(left)\" y=\"\(fmt(y0 + panelHeight + 14))\" fill=\"#555\">\(formatRFC3339(first.event.time).prefix(19))Z</text>\n"
            out += "<text x=\"\(left + plotWidth)\" y=\"\(fmt(y0 + panelHeight + 14))\" text-anchor=\"end\" fill=\"#555\">\(formatRFC3339(Micros(t1)).prefix(19))Z</text>\n"
        }
        return out + "</svg>\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    /// A number as a plot label: integers without a decimal point.
    public static func label(_ v: Double) -> String { v == v.rounded() ? String(Int64(v)) : String(format: "%.1f", v) }

    /// A value-axis tick: below a million as `label` writes it, from a
    /// million on in M or G with at most two decimals, so that MEMORY_MB
    /// totals fit the 64 pixels left of the panel.
    static func tickLabel(_ v: Double) -> String {
        for (scale, unit) in [(1e9, "G"), (1e6, "M")] where v >= scale {
            var digits = String(format: "%.2f", v / scale)
            while digits.hasSuffix("0") { digits.removeLast() }
            if digits.hasSuffix(".") { digits.removeLast() }
            return digits + unit
        }
        return label(v)
    }
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
