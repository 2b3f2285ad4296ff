/// Folds one event into the views. Pure arithmetic over the `ViewStore`
/// seam: no clock (the event's time is used), no I/O of its own, no rule
/// checks (`decide` made them before the event existed). The same function
/// serves the live projector, `replay` and `verify`.
public func apply(_ event: Event, to views: Views) throws {
    let now = event.time
    switch event.payload {
    case .providerCreated(let uuid, let name, let parent):
        let root = try parent.flatMap { try views.provider($0)?.root } ?? uuid
        try views.putProvider(ProviderRecord(
            uuid: uuid, name: name, generation: 0, parent: parent, root: root,
            inventories: [:], usages: [:], traits: [], aggregates: [], created: now, updated: now))
        try views.store.put(.providerNames, KeyPart.of(name), Array(uuid.utf8))
        if let parent { try views.store.put(.providerChildren, parent + keySep + uuid, []) }

    case .providerUpdated(let uuid, let name, let parent):
        guard var p = try views.provider(uuid) else { throw FoldError.missing("provider \(uuid)") }
        if p.name != name {
            try views.store.delete(.providerNames, KeyPart.of(p.name))
            try views.store.put(.providerNames, KeyPart.of(name), Array(uuid.utf8))
            p.name = name
        }
        if p.parent != parent {
            if let old = p.parent { try views.store.delete(.providerChildren, old + keySep + uuid) }
            if let parent { try views.store.put(.providerChildren, parent + keySep + uuid, []) }
            p.parent = parent
            let newRoot = try parent.flatMap { try views.provider($0)?.root } ?? uuid
            if newRoot != p.root {
                p.root = newRoot
                try setRoot(newRoot, belowProvider: uuid, views: views)
            }
        }
        p.updated = now
        try views.putProvider(p)

    case .providerDeleted(let uuid):
        guard let p = try views.provider(uuid) else { throw FoldError.missing("provider \(uuid)") }
        try views.store.delete(.providers, uuid)
        try views.store.delete(.providerNames, KeyPart.of(p.name))
        if let parent = p.parent { try views.store.delete(.providerChildren, parent + keySep + uuid) }
        for agg in p.aggregates { try views.store.delete(.aggregates, agg + keySep + uuid) }
        for trait in p.traits { try views.store.delete(.traitProviders, trait + keySep + uuid) }
        for rc in p.inventories.keys { try views.store.delete(.classProviders, rc + keySep + uuid) }

    case .inventoriesReplaced(let provider, let inventories):
        try replaceInventories(provider, inventories, now: now, views: views)

    case .resourceClassCreated(let name):
        try views.store.put(.resourceClasses, name, views.encode(NamedRecord(name: name, created: now, updated: nil)))
    case .resourceClassRenamed(let from, let to):
        try renameClass(from, to, views: views)
        let old = try views.customResourceClass(from)
        try views.store.delete(.resourceClasses, from)
        try views.store.put(.resourceClasses, to, views.encode(NamedRecord(name: to, created: old?.created ?? now, updated: now)))
    case .resourceClassDeleted(let name):
        try views.store.delete(.resourceClasses, name)
    case .traitCreated(let name):
        try views.store.put(.traits, name, views.encode(NamedRecord(name: name, created: now, updated: nil)))
    case .traitDeleted(let name):
        try views.store.delete(.traits, name)

    case .providerTraitsReplaced(let provider, let traits):
        guard var p = try views.provider(provider) else { throw FoldError.missing("provider \(provider)") }
        for t in p.traits { try views.store.delete(.traitProviders, t + keySep + provider) }
        for t in traits { try views.store.put(.traitProviders, t + keySep + provider, []) }
        p.traits = traits.sorted()
        p.generation += 1
        p.updated = now
        try views.putProvider(p)

    case .providerAggregatesReplaced(let provider, let aggregates, let bumps):
        guard var p = try views.provider(provider) else { throw FoldError.missing("provider \(provider)") }
        for a in p.aggregates { try views.store.delete(.aggregates, a + keySep + provider) }
        for a in aggregates { try views.store.put(.aggregates, a + keySep + provider, []) }
        p.aggregates = aggregates.sorted()
        if bumps { p.generation += 1 }
        p.updated = now
        try views.putProvider(p)

    case .allocationsReplaced(let consumers):
        try replaceAllocations(consumers, bumpGenerations: true, now: now, views: views)

    case .allocationsDeleted(let consumer):
        try replaceAllocations(
            [ConsumerAllocations(consumer: consumer, project: "", user: "", consumerType: nil, allocations: [:])],
            bumpGenerations: false, now: now, views: views)

    case .reshaped(let inventories, let consumers):
        // Placement sets each provider's inventory twice (the union of old
        // and new, then the new alone), bumping its generation each time;
        // the first step is skipped for an empty new inventory.
        for (provider, inv) in inventories.sorted(by: { $0.key < $1.key }) {
            try replaceInventories(provider, inv, now: now, views: views, extraBump: inv.isEmpty ? 0 : 1)
        }
        try replaceAllocations(consumers, bumpGenerations: true, now: now, views: views)
    }
}

/// A fold found the views disagreeing with the log: a bug or a damaged store.
public enum FoldError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self { case .missing(let what): "fold: \(what) is not in the views" }
    }
}

/// Before 1.7 a custom class could be renamed; Placement keys everything by
/// class id, this projection by name, so the rename is carried through every
/// inventory, usage and allocation that names the class.
private func renameClass(_ from: String, _ to: String, views: Views) throws {
    func renamed<V>(_ d: [String: V]) -> [String: V] {
        guard let v = d[from] else { return d }
        var d = d
        d[from] = nil
        d[to] = v
        return d
    }
    for uuid in try views.providers(withInventoryOf: from) {
        guard var p = try views.provider(uuid) else { continue }
        p.inventories = renamed(p.inventories)
        p.usages = renamed(p.usages)
        try views.putProvider(p)
        try views.store.delete(.classProviders, from + keySep + uuid)
        try views.store.put(.classProviders, to + keySep + uuid, [])
        for cu in try views.consumers(of: uuid) {
            guard var c = try views.consumer(cu) else { continue }
            c.allocations = c.allocations.mapValues(renamed)
            try views.putConsumer(c)
        }
    }
    for kv in try views.store.scan(.usages, prefix: "") {
        var u = try views.decode(UsageRecord.self, kv.value)
        guard u.resources[from] != nil else { continue }
        u.resources = renamed(u.resources)
        try views.putUsage(kv.key, u)
    }
}

private func setRoot(_ root: String, belowProvider uuid: String, views: Views) throws {
    for child in try views.children(of: uuid) {
        guard var c = try views.provider(child) else { continue }
        c.root = root
        try views.putProvider(c)
        try setRoot(root, belowProvider: child, views: views)
    }
}

private func replaceInventories(_ provider: String, _ inventories: [String: InventoryRecord], now: Micros, views: Views,
                                extraBump: Int64 = 0) throws {
    guard var p = try views.provider(provider) else { throw FoldError.missing("provider \(provider)") }
    var next: [String: InventoryRecord] = [:]
    for (rc, var inv) in inventories {
        if let old = p.inventories[rc], old.sameSettings(as: inv) {
            inv.updated = old.updated
        } else {
            inv.updated = now
        }
        next[rc] = inv
    }
    for rc in p.inventories.keys where next[rc] == nil { try views.store.delete(.classProviders, rc + keySep + provider) }
    for rc in next.keys where p.inventories[rc] == nil { try views.store.put(.classProviders, rc + keySep + provider, []) }
    p.inventories = next
    p.generation += 1 + extraBump
    p.updated = now
    try views.putProvider(p)
}

/// Replaces the allocations of each consumer. Placement bumps the generation
/// of every provider the new allocations name, once per request; a consumer
/// whose allocations are cleared by a write bumps the providers it held (a
/// DELETE bumps none). A consumer left with no allocations is removed.
private func replaceAllocations(_ consumers: [ConsumerAllocations], bumpGenerations: Bool, now: Micros, views: Views) throws {
    var touched: [String: ProviderRecord] = [:]
    var bump: Set<String> = []
    func provider(_ uuid: String) throws -> ProviderRecord {
        if let p = touched[uuid] { return p }
        guard let p = try views.provider(uuid) else { throw FoldError.missing("provider \(uuid)") }
        return p
    }
    for ca in consumers {
        let old = try views.consumer(ca.consumer)
        if let old {
            for (rp, resources) in old.allocations {
                var p = try provider(rp)
                for (rc, n) in resources {
                    let left = (p.usages[rc] ?? 0) - n
                    p.usages[rc] = left == 0 ? nil : left
                }
                p.updated = now
                touched[rp] = p
                try views.store.delete(.providerConsumers, rp + keySep + ca.consumer)
                if ca.allocations.isEmpty && bumpGenerations { bump.insert(rp) }
            }
            try adjustUsage(project: old.project, user: old.user, type: old.consumerType, by: old.allocations, sign: -1, views: views)
        }
        if ca.allocations.isEmpty {
            if old != nil { try views.store.delete(.consumers, ca.consumer) }
            continue
        }
        for (rp, resources) in ca.allocations {
            var p = try provider(rp)
            for (rc, n) in resources { p.usages[rc, default: 0] += n }
            p.updated = now
            touched[rp] = p
            try views.store.put(.providerConsumers, rp + keySep + ca.consumer, [])
            if bumpGenerations { bump.insert(rp) }
        }
        let record = ConsumerRecord(
            uuid: ca.consumer, project: ca.project, user: ca.user, consumerType: ca.consumerType,
            generation: (old?.generation ?? 0) + 1, allocations: ca.allocations,
            created: old?.created ?? now, updated: now)
        try views.putConsumer(record)
        try adjustUsage(project: ca.project, user: ca.user, type: ca.consumerType, by: ca.allocations, sign: 1, views: views)
    }
    for (uuid, var p) in touched {
        if bump.contains(uuid) { p.generation += 1 }
        try views.putProvider(p)
    }
}

private func adjustUsage(project: String, user: String, type: String?, by allocations: [String: [String: Int64]], sign: Int64, views: Views) throws {
    let key = KeyPart.of(project) + keySep + KeyPart.of(user) + keySep + (type ?? "")
    var record = try views.usage(key) ?? UsageRecord(resources: [:], consumers: 0)
    record.consumers += sign
    for resources in allocations.values {
        for (rc, n) in resources {
            let v = (record.resources[rc] ?? 0) + sign * n
            record.resources[rc] = v == 0 ? nil : v
        }
    }
    if record.consumers == 0 {
        try views.store.delete(.usages, key)
    } else {
        try views.putUsage(key, record)
    }
}
