/// The rules. Given a command and the views as they stand (including every
/// earlier command of the same group commit), either the events that carry
/// out the command or the reason it is refused. Pure: it reads the views and
/// nothing else, and writes nothing.
public func decide(_ command: Command, views: Views) throws -> Result<[EventPayload], Rejection> {
    do {
        return .success(try decideOrThrow(command, views: views))
    } catch let rejection as Rejection {
        return .failure(rejection)
    }
}

private func decideOrThrow(_ command: Command, views: Views) throws -> [EventPayload] {
    switch command {
    case .createProvider(let uuid, let name, let parent):
        return try createProvider(uuid: uuid, name: name, parent: parent, views: views)
    case .updateProvider(let uuid, let name, let parent, let allow):
        return try updateProvider(uuid: uuid, name: name, parent: parent, allowReparenting: allow, views: views)
    case .deleteProvider(let uuid):
        guard let p = try views.provider(uuid) else {
            throw Rejection(404, "No resource provider with uuid \(uuid) found for delete")
        }
        if !(try views.children(of: uuid)).isEmpty {
            throw Rejection(409, "Unable to delete parent resource provider \(uuid): It has child resource providers.",
                            code: Rejection.cannotDeleteParent)
        }
        if !p.usages.isEmpty {
            throw Rejection(409, "Unable to delete resource provider \(uuid): Resource provider has allocations.",
                            code: Rejection.providerInUse)
        }
        return [.providerDeleted(uuid: uuid)]

    case .addInventory(let uuid, let rc, let inventory, let mayEqual):
        let p = try existingProvider(uuid)(views)
        let prefix = "Unable to create inventory for resource provider \(uuid): "
        try checkCapacity(rc, inventory, provider: uuid, mayEqual: mayEqual, prefix: prefix)
        guard try views.resourceClassExists(rc) else { throw Rejection(400, prefix + "No such resource class \(rc).") }
        if p.inventories[rc] != nil {
            throw Rejection(409, "Update conflict: Duplicate entry for inventory \(rc) on resource provider \(uuid).",
                            code: Rejection.concurrentUpdate)
        }
        var next = p.inventories
        next[rc] = inventory
        return [.inventoriesReplaced(provider: uuid, inventories: next)]

    case .setInventories(let uuid, let generation, let inventories, let mayEqual):
        let p = try existingProvider(uuid)(views)
        guard generation == p.generation else {
            throw Rejection(409, "resource provider generation conflict", code: Rejection.concurrentUpdate)
        }
        let prefix = "Unable to update inventory for resource provider \(uuid): "
        for (rc, inv) in inventories { try checkCapacity(rc, inv, provider: uuid, mayEqual: mayEqual, prefix: prefix) }
        for (rc, _) in inventories where !(try views.resourceClassExists(rc)) {
            throw Rejection(400, "Unknown resource class in inventory for resource provider \(uuid): No such resource class \(rc).")
        }
        let keep = Set(inventories.map(\.0))
        let removed = p.inventories.keys.filter { !keep.contains($0) && (p.usages[$0] ?? 0) > 0 }
        if !removed.isEmpty {
            throw Rejection(409, "update conflict: " + inUseMessage(removed, uuid), code: Rejection.inventoryInUse)
        }
        return [.inventoriesReplaced(provider: uuid, inventories: Dictionary(inventories, uniquingKeysWith: { _, b in b }))]

    case .updateInventory(let uuid, let rc, let generation, let inventory, let mayEqual):
        let p = try existingProvider(uuid)(views)
        guard generation == p.generation else {
            throw Rejection(409, "resource provider generation conflict", code: Rejection.concurrentUpdate)
        }
        try checkCapacity(rc, inventory, provider: uuid, mayEqual: mayEqual,
                          prefix: "Unable to update inventory for resource provider \(uuid): ")
        guard try views.resourceClassExists(rc) else { throw Rejection(404, "No such resource class \(rc).") }
        guard p.inventories[rc] != nil else {
            throw Rejection(400, "No inventory record with resource class for resource provider \(uuid): No inventory of class \(rc) found.")
        }
        var next = p.inventories
        next[rc] = inventory
        return [.inventoriesReplaced(provider: uuid, inventories: next)]

    case .deleteInventory(let uuid, let rc):
        let p = try existingProvider(uuid)(views)
        guard try views.resourceClassExists(rc) else {
            throw Rejection(404, "No inventory of class \(rc) found for delete: No such resource class \(rc).")
        }
        guard p.inventories[rc] != nil else {
            throw Rejection(404, "No inventory of class \(rc) found for delete: No inventory of class \(rc) found for delete")
        }
        if (p.usages[rc] ?? 0) > 0 {
            throw Rejection(409, "Unable to delete inventory of class \(rc): " + inUseMessage([rc], uuid),
                            code: Rejection.concurrentUpdate)
        }
        var next = p.inventories
        next[rc] = nil
        return [.inventoriesReplaced(provider: uuid, inventories: next)]

    case .deleteInventories(let uuid):
        let p = try existingProvider(uuid)(views)
        let used = p.inventories.keys.filter { (p.usages[$0] ?? 0) > 0 }
        if !used.isEmpty { throw Rejection(409, inUseMessage(used, uuid), code: Rejection.inventoryInUse) }
        return [.inventoriesReplaced(provider: uuid, inventories: [:])]

    case .createResourceClass(let name):
        if try views.resourceClassExists(name) {
            throw Rejection(409, "Conflicting resource class already exists: \(name)")
        }
        return [.resourceClassCreated(name: name)]
    case .ensureResourceClass(let name):
        if try views.resourceClassExists(name) { return [] }
        return [.resourceClassCreated(name: name)]
    case .renameResourceClass(let from, let to):
        guard try views.resourceClassExists(from) else { throw Rejection(404, "No such resource class \(from).") }
        if StandardResourceClasses.set.contains(from) {
            throw Rejection(400, "Cannot update standard resource class \(from)")
        }
        if try views.resourceClassExists(to) { throw Rejection(409, "Resource class already exists: \(to)") }
        return [.resourceClassRenamed(from: from, to: to)]
    case .deleteResourceClass(let name):
        guard try views.resourceClassExists(name) else { throw Rejection(404, "No such resource class \(name).") }
        if StandardResourceClasses.set.contains(name) {
            throw Rejection(400, "Error in delete resource class: Cannot delete standard resource class \(name).")
        }
        if try views.resourceClassInUse(name) {
            throw Rejection(409, "Error in delete resource class: Cannot delete resource class \(name). Class is in use in inventory.")
        }
        return [.resourceClassDeleted(name: name)]

    case .ensureTrait(let name):
        if try views.traitExists(name) { return [] }
        return [.traitCreated(name: name)]
    case .deleteTrait(let name):
        guard try views.traitExists(name) else { throw Rejection(404, "No such trait(s): \(name).") }
        if StandardTraits.set.contains(name) { throw Rejection(400, "Cannot delete standard trait \(name).") }
        if try views.traitInUse(name) { throw Rejection(409, "The trait \(name) is in use by a resource provider.") }
        return [.traitDeleted(name: name)]
    case .setProviderTraits(let uuid, let generation, let traits):
        let p = try existingProvider(uuid)(views)
        let missing = try traits.filter { !(try views.traitExists($0)) }
        if !missing.isEmpty { throw Rejection(400, "No such trait(s): \(missing.joined(separator: ", ")).") }
        guard generation == p.generation else {
            throw Rejection(409, "Resource provider's generation already changed. Please update the generation and try again.",
                            code: Rejection.concurrentUpdate)
        }
        let want = Array(Set(traits)).sorted()
        if want == p.traits { return [] }
        return [.providerTraitsReplaced(provider: uuid, traits: want)]
    case .deleteProviderTraits(let uuid):
        let p = try existingProvider(uuid)(views)
        if p.traits.isEmpty { return [] }
        return [.providerTraitsReplaced(provider: uuid, traits: [])]
    case .setProviderAggregates(let uuid, let generation, let aggregates):
        let p = try existingProvider(uuid)(views)
        if let generation, generation != p.generation {
            throw Rejection(409, "Resource provider's generation already changed. Please update the generation and try again.",
                            code: Rejection.concurrentUpdate)
        }
        let want = Array(Set(aggregates)).sorted()
        if want == p.aggregates && generation == nil { return [] }
        return [.providerAggregatesReplaced(provider: uuid, aggregates: want, bumpsGeneration: generation != nil)]

    case .setAllocations(let request):
        return try setAllocations(request, views: views)
    case .deleteAllocations(let consumer):
        guard let c = try views.consumer(consumer), !c.allocations.isEmpty else {
            throw Rejection(404, "No allocations for consumer '\(consumer)'")
        }
        return [.allocationsDeleted(consumer: consumer)]
    case .reshape(let inventories, let allocations):
        return try reshape(inventories, allocations, views: views)
    }
}

/// Placement's reshaper (objects/reshaper.py): each provider first gets the
/// union of its old and new inventories, then the allocations are replaced
/// (checked against that union), then each provider gets exactly its new
/// inventories (refused where allocations remain on a removed class). The
/// steps are tried on an overlay; only the final outcome becomes an event.
private func reshape(_ inventories: [(provider: String, generation: Int64, inventories: [(String, InventoryRecord)])],
                     _ request: AllocationRequest, views: Views) throws -> [EventPayload] {
    for entry in inventories {
        guard let p = try views.provider(entry.provider) else {
            throw Rejection(400, "Resource provider \(entry.provider) in inventories not found: No resource provider with uuid \(entry.provider) found",
                            code: Rejection.providerNotFound)
        }
        if p.generation != entry.generation {
            throw Rejection(409, "resource provider generation conflict for provider \(entry.provider): actual: \(p.generation), given: \(entry.generation)",
                            code: Rejection.concurrentUpdate)
        }
    }
    let overlay = Views(OverlayStore(views.store))
    // Consumer generations and providers are checked before any inventory changes.
    _ = try checkConsumersAndProviders(request, views: overlay)
    for entry in inventories where !entry.inventories.isEmpty {
        for (rc, _) in entry.inventories where !(try views.resourceClassExists(rc)) {
            throw Rejection(400, "malformed reshaper data: No such resource class \(rc).")
        }
        var p = try overlay.provider(entry.provider)!
        for (rc, inv) in entry.inventories { p.inventories[rc] = inv }
        try overlay.putProvider(p)
    }
    let consumers: [ConsumerAllocations]
    switch try setAllocations(request, views: overlay).first {
    case .allocationsReplaced(let cs)?: consumers = cs
    default: consumers = []
    }
    // Usage after the new allocations, for the in-use check of the final inventories.
    var usage: [String: [String: Int64]] = [:]
    for entry in inventories { usage[entry.provider] = try overlay.provider(entry.provider)?.usages ?? [:] }
    for ca in consumers {
        if let old = try overlay.consumer(ca.consumer) {
            for (rp, res) in old.allocations where usage[rp] != nil {
                for (rc, n) in res { usage[rp]![rc, default: 0] -= n }
            }
        }
    }
    for ca in consumers {
        for (rp, res) in ca.allocations where usage[rp] != nil {
            for (rc, n) in res { usage[rp]![rc, default: 0] += n }
        }
    }
    for entry in inventories {
        let keep = Set(entry.inventories.map(\.0))
        let inUse = (usage[entry.provider] ?? [:]).filter { !keep.contains($0.key) && $0.value > 0 }.map(\.key)
        if !inUse.isEmpty {
            throw Rejection(409, "update conflict: " + inUseMessage(inUse, entry.provider), code: Rejection.inventoryInUse)
        }
    }
    var final: [String: [String: InventoryRecord]] = [:]
    for entry in inventories { final[entry.provider] = Dictionary(entry.inventories, uniquingKeysWith: { _, b in b }) }
    return [.reshaped(inventories: final, consumers: consumers)]
}

/// Looks a provider up for a write; Placement answers 404 with this text.
private func existingProvider(_ uuid: String) -> (Views) throws -> ProviderRecord {
    { views in
        guard let p = try views.provider(uuid) else { throw Rejection(404, "No resource provider with uuid \(uuid) found") }
        return p
    }
}

private func inUseMessage(_ classes: [String], _ provider: String) -> String {
    "Inventory for '\(StandardResourceClasses.sortedByID(classes).joined(separator: ", "))' on resource provider '\(provider)' in use."
}

/// Placement refuses inventory whose capacity `int((total - reserved) * ratio)`
/// is not positive (from 1.26: negative).
private func checkCapacity(_ rc: String, _ inv: InventoryRecord, provider: String, mayEqual: Bool, prefix: String) throws {
    let capacity = Double(inv.total - inv.reserved) * inv.allocationRatio
    let intCapacity = capacity.rounded(.towardZero)
    if mayEqual ? intCapacity < 0 : intCapacity <= 0 {
        let tail = mayEqual ? "The reserved value is greater than total." : "The reserved value is greater than or equal to total."
        throw Rejection(400, prefix + "Invalid inventory for '\(rc)' on resource provider '\(provider)'. " + tail)
    }
}

private func createProvider(uuid: String, name: String, parent: String?, views: Views) throws -> [EventPayload] {
    if parent == uuid {
        throw Rejection(400, "Unable to create resource provider \"\(name)\", \(uuid): Object action create failed because: parent provider UUID cannot be same as UUID. Please set parent provider UUID to None if there is no parent.")
    }
    if let parent, try views.provider(parent) == nil {
        throw Rejection(400, "Unable to create resource provider \"\(name)\", \(uuid): Object action create failed because: parent provider UUID does not exist.")
    }
    var duplicates: [String] = []
    if try views.provider(uuid) != nil { duplicates.append("uuid: \(uuid)") }
    if try views.providerUUID(named: name) != nil { duplicates.append("name: \(name)") }
    if !duplicates.isEmpty {
        throw Rejection(409, "Conflicting resource provider \(duplicates.joined(separator: ", ")) already exists.",
                        code: Rejection.duplicateName)
    }
    return [.providerCreated(uuid: uuid, name: name, parent: parent)]
}

private func updateProvider(uuid: String, name: String, parent: String??, allowReparenting: Bool, views: Views) throws -> [EventPayload] {
    let p = try existingProvider(uuid)(views)
    var newParent = p.parent
    let fail = { (action: String, reason: String) in
        Rejection(400, "Unable to save resource provider \(uuid): Object action \(action) failed because: \(reason)")
    }
    if case .some(let requested) = parent {
        if let requested {
            guard try views.provider(requested) != nil else { throw fail("create", "parent provider UUID does not exist.") }
            if let current = p.parent, current != requested, !allowReparenting {
                throw fail("update", "re-parenting a provider is not currently allowed.")
            }
            if requested != p.parent {
                if try requested == uuid || isDescendant(requested, of: uuid, views: views) {
                    throw fail("update", "creating loop in the provider tree is not allowed.")
                }
            }
            newParent = requested
        } else if p.parent != nil {
            if !allowReparenting { throw fail("update", "un-parenting a provider is not currently allowed.") }
            newParent = nil
        }
    }
    if name != p.name, let other = try views.providerUUID(named: name), other != uuid {
        throw Rejection(409, "Conflicting resource provider \(name) already exists.", code: Rejection.duplicateName)
    }
    if name == p.name && newParent == p.parent { return [] }
    return [.providerUpdated(uuid: uuid, name: name, parent: newParent)]
}

private func isDescendant(_ candidate: String, of ancestor: String, views: Views) throws -> Bool {
    var current = try views.provider(candidate)?.parent
    var steps = 0
    while let c = current, steps < 10_000 {
        if c == ancestor { return true }
        current = try views.provider(c)?.parent
        steps += 1
    }
    return false
}

/// Consumer generations (from 1.28), then that every provider named exists.
/// Returns the consumers' current records.
private func checkConsumersAndProviders(_ request: AllocationRequest, views: Views) throws -> [String: ConsumerRecord] {
    var olds: [String: ConsumerRecord] = [:]
    for c in request.consumers {
        let old = try views.consumer(c.uuid)
        if let old { olds[c.uuid] = old }
        if case .some(let given) = c.generation {
            if let old {
                if given != old.generation {
                    throw Rejection(409, "consumer generation conflict - expected \(old.generation) but got \(given.map(String.init) ?? "None")",
                                    code: Rejection.concurrentUpdate)
                }
            } else if let given {
                throw Rejection(409, "consumer generation conflict - expected null but got \(given)", code: Rejection.concurrentUpdate)
            }
        }
    }
    // Providers must exist, in request order.
    for c in request.consumers {
        for a in c.allocations where try views.provider(a.provider) == nil {
            throw Rejection(400, "Allocation for resource provider '\(a.provider)' that does not exist.")
        }
    }
    return olds
}

/// Placement's allocation write (objects/allocation.py `_set_allocations`):
/// consumer generations first, then providers and classes, then per
/// provider and class the unit constraints and the capacity, counted after
/// the consumers' own old allocations are taken away. A write that leaves a
/// provider over capacity is accepted only when it does not add to the
/// overage.
private func setAllocations(_ request: AllocationRequest, views: Views) throws -> [EventPayload] {
    var resolved: [ConsumerAllocations] = []
    var olds = try checkConsumersAndProviders(request, views: views)
    // Resource classes must exist.
    for c in request.consumers {
        for a in c.allocations {
            for (rc, _) in a.resources where !(try views.resourceClassExists(rc)) {
                let detail = switch request.origin {
                case .post: "Unable to allocate inventory No such resource class \(rc)."
                case .put: "Unable to allocate inventory for consumer \(c.uuid): No such resource class \(rc)."
                case .reshaper: "malformed reshaper data: No such resource class \(rc)."
                }
                throw Rejection(400, detail)
            }
        }
    }
    // Usage before (prev) and after removing these consumers' allocations (used).
    var used: [String: [String: Int64]] = [:]
    var prev: [String: [String: Int64]] = [:]
    var providers: [String: ProviderRecord] = [:]
    func provider(_ uuid: String) throws -> ProviderRecord {
        if let p = providers[uuid] { return p }
        let p = try views.provider(uuid)!
        providers[uuid] = p
        prev[uuid] = p.usages
        used[uuid] = p.usages
        return p
    }
    for c in request.consumers {
        guard let old = olds[c.uuid] else { continue }
        for (rp, resources) in old.allocations {
            _ = try provider(rp)
            for (rc, n) in resources { used[rp]![rc, default: 0] -= n }
        }
        olds[c.uuid] = nil  // a consumer named twice is only taken away once
    }
    // Providers named must have inventory of at least one requested class.
    let requestedClasses = request.consumers.flatMap { $0.allocations.flatMap { $0.resources.map(\.0) } }
    var classOrder: [String] = []
    for rc in requestedClasses where !classOrder.contains(rc) { classOrder.append(rc) }
    classOrder = StandardResourceClasses.sortedByID(classOrder)
    for c in request.consumers {
        for a in c.allocations {
            let p = try provider(a.provider)
            if !classOrder.contains(where: { p.inventories[$0] != nil }) {
                throw Rejection(409, "Unable to allocate inventory: Inventory for '\(classOrder.joined(separator: ", "))' on resource provider '\(a.provider)' invalid.")
            }
        }
    }
    var sums: [String: [String: Int64]] = [:]
    for c in request.consumers {
        for a in c.allocations {
            let p = try provider(a.provider)
            for (rc, amount) in a.resources {
                sums[a.provider, default: [:]][rc, default: 0] += amount
                guard let inv = p.inventories[rc] else {
                    throw Rejection(409, "Unable to allocate inventory: Inventory for '\(rc)' on resource provider '\(a.provider)' invalid.")
                }
                if amount < inv.minUnit || amount > inv.maxUnit || amount % inv.stepSize != 0 {
                    throw Rejection(409, "Unable to allocate inventory: Unable to create allocation for '\(rc)' on resource provider '\(a.provider)'. The requested amount would violate inventory constraints.")
                }
                let u = used[a.provider]![rc] ?? 0
                let all = sums[a.provider]![rc]!
                let capacity = inv.capacity
                if capacity < Double(u + amount) || capacity < Double(u + all) {
                    let before = prev[a.provider]![rc]
                    if let before, u + all <= before { continue }
                    throw Rejection(409, "Unable to allocate inventory: Unable to create allocation for '\(rc)' on resource provider '\(a.provider)'. The requested amount would exceed the capacity.")
                }
            }
        }
    }
    for c in request.consumers {
        let existing = try views.consumer(c.uuid)
        let type: String? = c.consumerType ?? existing?.consumerType
        var allocations: [String: [String: Int64]] = [:]
        for a in c.allocations {
            for (rc, n) in a.resources { allocations[a.provider, default: [:]][rc] = n }
        }
        resolved.append(ConsumerAllocations(
            consumer: c.uuid, project: c.project ?? incompleteConsumerID, user: c.user ?? incompleteConsumerID,
            consumerType: type, allocations: allocations))
    }
    // Clearing a consumer that has nothing is no change at all.
    let changes = try resolved.filter { ca in
        if !ca.allocations.isEmpty { return true }
        return try views.consumer(ca.consumer) != nil
    }
    if changes.isEmpty { return [] }
    return [.allocationsReplaced(consumers: resolved)]
}
