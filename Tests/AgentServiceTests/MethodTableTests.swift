import AgentCore
import AgentService
import AttestationAgentAPI
import CAttestationAgentProtos
import CProtobufC
import Logging
import Platform
import PlatformInterface
import ProtobufCSupport
import TTRPC
import Testing

/// The method table against what protoc-c generated from the proto: a method
/// added to the proto and missed in the table, the service glue or the
/// messages fails here (the state machine, the handlers' switch and aactl's
/// subcommands are checked by the compiler; see docs/design.md).
@Suite struct MethodTableTests {
    /// The service of attestation-agent.proto, as protoc-c describes it:
    /// each method's name and its messages' wire fields.
    static let protoMethods: [(name: String, request: [String], response: [String])] = {
        let service = attestation_agent__attestation_agent_service__descriptor
        return (0..<Int(service.n_methods)).map { index in
            let method = service.methods[index]
            return (String(cString: method.name), wireFields(method.input), wireFields(method.output))
        }
    }()

    /// A message's fields as the wire sees them: number, name, label and type.
    static func wireFields(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> [String] {
        (0..<Int(descriptor.pointee.n_fields)).map { index in
            let field = descriptor.pointee.fields[index]
            return "\(field.id) \(String(cString: field.name)) \(field.label.rawValue) \(field.type.rawValue)"
        }
    }

    @Test func theTableNamesTheProtosService() {
        #expect(
            String(cString: attestation_agent__attestation_agent_service__descriptor.name)
                == AttestationAgentMethod.service)
        #expect(Set(Self.protoMethods.map(\.name)) == Set(AttestationAgentMethod.allCases.map(\.rawValue)))
        #expect(Self.protoMethods.count == AttestationAgentMethod.allCases.count)
    }

    /// Each method's Swift messages wrap structs with the proto's fields (a
    /// shared Swift value such as EmptyMessage may wrap another message of
    /// the same layout).
    @Test func eachMethodsMessagesHaveTheProtosFields() {
        for proto in Self.protoMethods {
            guard let method = AttestationAgentMethod(rawValue: proto.name) else { continue }
            #expect(Self.wireFields(method.descriptor.request.descriptor) == proto.request, "\(proto.name) request")
            #expect(Self.wireFields(method.descriptor.response.descriptor) == proto.response, "\(proto.name) response")
        }
    }

    /// The service glue serves every method of the proto, where the table
    /// says it runs, and answers each with the table's response message.
    @Test func theServiceServesEveryProtoMethod() async throws {
        let agent = AttestationAgent(platform: SampleTEE(simulatedField: [0x42]), logger: Logger(label: "test"))
        await agent.startWithoutInitData()
        var services = TTRPCServiceSet()
        AgentServiceHandlers.register(agent: agent, in: &services, logger: Logger(label: "test"))
        for proto in Self.protoMethods {
            guard let entry = try? services.lookup(service: AttestationAgentMethod.service, method: proto.name).get()
            else {
                Issue.record("\(proto.name) is not served")
                continue
            }
            let expected: TTRPCHandlerPlacement =
                proto.name == "GetTeeType" || proto.name == "GetAdditionalTees"
                    || proto.name == "GetStatus" ? .immediate : .concurrentPool
            #expect(entry.placement == expected, "\(proto.name)")
        }
    }

    /// The host-facing default allowlist: the three calls docs/design.md lists, nothing else.
    @Test func hostSafeMethodsAreTheDocumentedThree() {
        #expect(
            Set(AttestationAgentMethod.hostSafe.map(\.rawValue)) == ["GetTeeType", "GetAdditionalTees", "GetStatus"])
    }
}
