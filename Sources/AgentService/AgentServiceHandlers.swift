import AgentCore
import AttestationAgentAPI
import DataEncoding
import Logging
import NIOCore
import PlatformInterface
import ProtobufCSupport
import TTRPC

/// The service glue: for each method, decode the request through protobuf-c,
/// call the agent core, encode the answer. No decisions are made here.
public enum AgentServiceHandlers {
    public static func register(agent: AttestationAgent, in services: inout TTRPCServiceSet, logger: Logger) {
        // Every method of the table, each by the switch below (a method
        // added to the table and not here does not compile), registered under
        // the name of the typed method its handler was made for.
        for method in AttestationAgentMethod.allCases {
            let handler = handler(for: method, agent: agent, logger: logger)
            switch handler.body {
            case .immediate(let body):
                services.registerImmediate(
                    service: AttestationAgentMethod.service, method: handler.method.rawValue, handler: body)
            case .task(let body):
                services.register(
                    service: AttestationAgentMethod.service, method: handler.method.rawValue, handler: body)
            }
        }
    }

    /// A method's handler: answered at once from the agent's published state
    /// (the methods the table marks `answersFromMemory`), or a task.
    struct Handler {
        enum Body {
            case immediate(TTRPCImmediateHandler)
            case task(TTRPCMethodHandler)
        }

        let method: AttestationAgentMethod
        let body: Body
    }

    static func handler(for method: AttestationAgentMethod, agent: AttestationAgent, logger: Logger) -> Handler {
        typealias Typed = AttestationAgentMethods
        switch method {
        case .getEvidence:
            return unary(Typed.getEvidence, logger) { (request, _) throws(AgentError) in
                GetEvidenceResponse(evidence: try await agent.evidence(runtimeData: request.runtimeData))
            }
        case .getAdditionalEvidence:
            return unary(Typed.getAdditionalEvidence, logger) { (request, context) throws(AgentError) in
                try await withCallerDeadline(context) { () throws(AgentError) in
                    GetEvidenceResponse(
                        evidence: try await agent.additionalEvidence(runtimeData: request.runtimeData))
                }
            }
        case .getToken:
            return unary(Typed.getToken, logger) { (request, context) throws(AgentError) in
                // The remote calls get what is left of the caller's deadline.
                let timeLimit = timeLeft(context)
                return try await withCallerDeadline(context) { () throws(AgentError) in
                    GetTokenResponse(token: try await agent.token(type: request.tokenType, timeLimit: timeLimit))
                }
            }
        case .extendRuntimeMeasurement:
            return unary(Typed.extendRuntimeMeasurement, logger) { (request, _) throws(AgentError) in
                let outcome = try await agent.extendRuntimeMeasurement(
                    domain: request.domain, operation: request.operation, content: request.content,
                    registerIndex: request.registerIndex)
                switch outcome {
                case .ok: return ExtendRuntimeMeasurementResponse(result: .ok)
                case .notSupported: return ExtendRuntimeMeasurementResponse(result: .notSupported)
                case .notEnabled: return ExtendRuntimeMeasurementResponse(result: .notEnabled)
                }
            }
        case .bindInitData: return bind(Typed.bindInitData, agent, logger)
        case .checkInitData: return bind(Typed.checkInitData, agent, logger)
        case .updateConfiguration:
            return unary(Typed.updateConfiguration, logger) { (request, _) throws(AgentError) in
                try await agent.updateConfiguration(request.config)
                return EmptyMessage()
            }
        case .getTeeType:
            return immediate(Typed.getTeeType, logger) { _ throws(AgentError) in
                GetTeeTypeResponse(tee: try agent.teeType().rawValue)
            }
        case .getAdditionalTees:
            return immediate(Typed.getAdditionalTees, logger) { _ throws(AgentError) in
                GetAdditionalTeesResponse(additionalTees: try agent.additionalTees().map(\.rawValue))
            }
        case .getStatus:
            return immediate(Typed.getStatus, logger) { _ throws(AgentError) in
                let status = try agent.statusReport()
                return GetStatusResponse(
                    state: status.state.rawValue, binding: status.binding.rawValue,
                    tee: status.tee.rawValue, configSource: status.configSource.rawValue,
                    initDataDigest: (status.rejectedDigest ?? status.boundDigest).map(Hex.encode) ?? "",
                    initDataField: status.rejectedField.map(Hex.encode) ?? "", kbsURL: status.kbs?.url ?? "",
                    kbsCert: status.kbs?.cert ?? "")
            }
        }
    }

    /// What is left of the call's deadline, if it has one.
    private static func timeLeft(_ context: TTRPCCallContext) -> Duration? {
        context.deadline.map {
            Duration.nanoseconds(max(0, Int64($0.uptimeNanoseconds) - Int64(NIODeadline.now().uptimeNanoseconds)))
        }
    }

    /// Runs `body` with the call's deadline known to the platform (CallerDeadline).
    private static func withCallerDeadline<T: Sendable>(
        _ context: TTRPCCallContext, _ body: () async throws(AgentError) -> T
    ) async throws(AgentError) -> T {
        let instant = timeLeft(context).map { ContinuousClock.now + $0 }
        let result: Result<T, AgentError> = await CallerDeadline.$instant.withValue(instant) {
            do throws(AgentError) { return .success(try await body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// BindInitData and its older name CheckInitData: the same call.
    private static func bind(
        _ typed: TypedMethod<InitDataDigestRequest, EmptyMessage>, _ agent: AttestationAgent, _ logger: Logger
    ) -> Handler {
        unary(typed, logger) { request, _ throws(AgentError) in
            try await agent.bindInitData(digest: request.digest)
            return EmptyMessage()
        }
    }

    /// A method's bytes in and out: decode the request through protobuf-c,
    /// run `body` as a task, encode its answer. `body` takes and gives the
    /// method's own messages, or this does not compile.
    private static func unary<Request, Response>(
        _ typed: TypedMethod<Request, Response>, _ logger: Logger,
        _ body: @escaping @Sendable (Request, TTRPCCallContext) async throws(AgentError) -> Response
    ) -> Handler {
        let method = typed.method
        precondition(!method.descriptor.answersFromMemory, "\(method.rawValue) is answered from memory, not as a task")
        return Handler(
            method: method,
            body: .task { context, payload in
                let request: Request = try decode(method, payload)
                do throws(AgentError) {
                    return try await body(request, context).protobufBytes()
                } catch {
                    throw refused(method, error, logger)
                }
            })
    }

    /// As `unary`, answered at once on the event loop from what the agent published.
    private static func immediate<Request, Response>(
        _ typed: TypedMethod<Request, Response>, _ logger: Logger,
        _ body: @escaping @Sendable (Request) throws(AgentError) -> Response
    ) -> Handler {
        let method = typed.method
        precondition(method.descriptor.answersFromMemory, "\(method.rawValue) is not answered from memory")
        return Handler(
            method: method,
            body: .immediate { payload in
                let request: Request = try decode(method, payload)
                do throws(AgentError) {
                    return try body(request).protobufBytes()
                } catch {
                    throw refused(method, error, logger)
                }
            })
    }

    private static func decode<Request: ProtobufCodable>(
        _ method: AttestationAgentMethod, _ payload: [UInt8]
    ) throws(TTRPCError) -> Request {
        do {
            return try Request(protobufBytes: payload)
        } catch {
            throw TTRPCError(.invalidArgument, "\(method.rawValue): \(error)")
        }
    }

    /// The error goes back as it is: it carries its status, which the server
    /// asks it for. Its cause is for the log only.
    private static func refused(_ method: AttestationAgentMethod, _ error: AgentError, _ logger: Logger) -> AgentError {
        var metadata: Logger.Metadata = ["method": "\(method.rawValue)", "error": "\(error)"]
        if let cause = error.cause { metadata["cause"] = "\(cause)" }
        logger.debug("call refused", metadata: metadata)
        return error
    }
}
