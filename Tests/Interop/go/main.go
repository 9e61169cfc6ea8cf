// aa-peer-go: containerd's Go ttrpc (Debian's golang-github-containerd-ttrpc-dev)
// speaking the attestation-agent service, as a client and as a server.
//
//	aa-peer-go client SOCKET_PATH   < commands     one call per line, one result per line
//	aa-peer-go serve SOCKET_PATH                   the sample TEE's answers
//
// Commands (see ../README.md): METHOD [ARG...]; bytes are hex ("-" is empty),
// UpdateConfiguration takes base64. Results: "OK METHOD k=v ..." or
// "ERR METHOD CODE message".
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	aa "aapeer/attestation_agent"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: aa-peer-go client|serve SOCKET_PATH")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "client":
		err = runClient(os.Args[2])
	case "serve":
		err = serve(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aa-peer-go:", err)
		os.Exit(1)
	}
}

func bytesArg(args []string, i int) ([]byte, error) {
	if len(args) <= i || args[i] == "-" {
		return nil, nil
	}
	return hex.DecodeString(args[i])
}

func runClient(path string) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	service := aa.NewAttestationAgentServiceClient(client)

	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		args := strings.Fields(scanner.Text())
		if len(args) == 0 {
			continue
		}
		// Callers such as kata-agent set a deadline on every call.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		result, err := call(ctx, service, args)
		cancel()
		if err != nil {
			st, _ := status.FromError(err)
			fmt.Printf("ERR %s %d %s\n", args[0], int32(st.Code()), st.Message())
		} else {
			fmt.Printf("OK %s%s\n", args[0], result)
		}
	}
	return scanner.Err()
}

func call(ctx context.Context, s aa.AttestationAgentServiceService, args []string) (string, error) {
	switch args[0] {
	case "GetTeeType":
		r, err := s.GetTeeType(ctx, &aa.GetTeeTypeRequest{})
		if err != nil {
			return "", err
		}
		return " tee=" + r.Tee, nil
	case "GetAdditionalTees":
		r, err := s.GetAdditionalTees(ctx, &aa.GetAdditionalTeesRequest{})
		if err != nil {
			return "", err
		}
		return " additional_tees=" + strings.Join(r.AdditionalTees, ","), nil
	case "GetStatus":
		r, err := s.GetStatus(ctx, &aa.GetStatusRequest{})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf(" state=%s binding=%s tee=%s config_source=%s init_data_digest=%s",
			r.State, r.Binding, r.Tee, r.ConfigSource, r.InitDataDigest), nil
	case "GetEvidence", "GetAdditionalEvidence":
		data, err := bytesArg(args, 1)
		if err != nil {
			return "", err
		}
		var r *aa.GetEvidenceResponse
		if args[0] == "GetEvidence" {
			r, err = s.GetEvidence(ctx, &aa.GetEvidenceRequest{RuntimeData: data})
		} else {
			r, err = s.GetAdditionalEvidence(ctx, &aa.GetAdditionalEvidenceRequest{RuntimeData: data})
		}
		if err != nil {
			return "", err
		}
		return " evidence=" + hex.EncodeToString(r.Evidence), nil
	case "GetToken":
		r, err := s.GetToken(ctx, &aa.GetTokenRequest{TokenType: args[1]})
		if err != nil {
			return "", err
		}
		return " token=" + hex.EncodeToString(r.Token), nil
	case "ExtendRuntimeMeasurement":
		req := &aa.ExtendRuntimeMeasurementRequest{Domain: args[1], Operation: args[2], Content: args[3]}
		if len(args) > 4 {
			index, err := strconv.ParseUint(args[4], 10, 64)
			if err != nil {
				return "", err
			}
			req.XRegisterIndex = &aa.ExtendRuntimeMeasurementRequest_RegisterIndex{RegisterIndex: index}
		}
		r, err := s.ExtendRuntimeMeasurement(ctx, req)
		if err != nil {
			return "", err
		}
		return " result=" + r.Result.String(), nil
	case "BindInitData", "CheckInitData":
		digest, err := bytesArg(args, 1)
		if err != nil {
			return "", err
		}
		if args[0] == "BindInitData" {
			_, err = s.BindInitData(ctx, &aa.BindInitDataRequest{Digest: digest})
		} else {
			_, err = s.CheckInitData(ctx, &aa.CheckInitDataRequest{Digest: digest})
		}
		return "", err
	case "UpdateConfiguration":
		text, err := base64.StdEncoding.DecodeString(args[1])
		if err != nil {
			return "", err
		}
		_, err = s.UpdateConfiguration(ctx, &aa.UpdateConfigurationRequest{Config: string(text)})
		return "", err
	}
	return "", status.Errorf(codes.InvalidArgument, "unknown command %s", args[0])
}

// sampleService answers as an agent on the sample TEE that is configured.
type sampleService struct{}

func (sampleService) GetEvidence(ctx context.Context, r *aa.GetEvidenceRequest) (*aa.GetEvidenceResponse, error) {
	evidence, _ := json.Marshal(struct {
		Svn        string `json:"svn"`
		ReportData string `json:"report_data"`
	}{"1", base64.StdEncoding.EncodeToString(r.RuntimeData)})
	return &aa.GetEvidenceResponse{Evidence: evidence}, nil
}

func (sampleService) GetAdditionalEvidence(ctx context.Context, r *aa.GetAdditionalEvidenceRequest) (*aa.GetEvidenceResponse, error) {
	return &aa.GetEvidenceResponse{}, nil
}

func (sampleService) GetToken(ctx context.Context, r *aa.GetTokenRequest) (*aa.GetTokenResponse, error) {
	if r.TokenType != "kbs" {
		return nil, status.Errorf(codes.InvalidArgument, "unknown token type %s", r.TokenType)
	}
	return &aa.GetTokenResponse{Token: []byte(`{"token":"go-peer-token","tee_keypair":""}`)}, nil
}

func (sampleService) ExtendRuntimeMeasurement(ctx context.Context, r *aa.ExtendRuntimeMeasurementRequest) (*aa.ExtendRuntimeMeasurementResponse, error) {
	if _, ok := r.XRegisterIndex.(*aa.ExtendRuntimeMeasurementRequest_RegisterIndex); !ok {
		return &aa.ExtendRuntimeMeasurementResponse{Result: aa.RuntimeMeasurementResult_NOT_SUPPORTED}, nil
	}
	return &aa.ExtendRuntimeMeasurementResponse{Result: aa.RuntimeMeasurementResult_NOT_ENABLED}, nil
}

func (sampleService) BindInitData(ctx context.Context, r *aa.BindInitDataRequest) (*aa.BindInitDataResponse, error) {
	if len(r.Digest) == 0 {
		return nil, status.Errorf(codes.PermissionDenied, "empty digest")
	}
	return &aa.BindInitDataResponse{}, nil
}

func (sampleService) CheckInitData(ctx context.Context, r *aa.CheckInitDataRequest) (*aa.CheckInitDataResponse, error) {
	return &aa.CheckInitDataResponse{}, nil
}

func (sampleService) UpdateConfiguration(ctx context.Context, r *aa.UpdateConfigurationRequest) (*aa.UpdateConfigurationResponse, error) {
	return &aa.UpdateConfigurationResponse{}, nil
}

func (sampleService) GetTeeType(ctx context.Context, r *aa.GetTeeTypeRequest) (*aa.GetTeeTypeResponse, error) {
	return &aa.GetTeeTypeResponse{Tee: "sample"}, nil
}

func (sampleService) GetAdditionalTees(ctx context.Context, r *aa.GetAdditionalTeesRequest) (*aa.GetAdditionalTeesResponse, error) {
	return &aa.GetAdditionalTeesResponse{AdditionalTees: []string{"go-peer"}}, nil
}

func (sampleService) GetStatus(ctx context.Context, r *aa.GetStatusRequest) (*aa.GetStatusResponse, error) {
	return &aa.GetStatusResponse{State: "Configured", Binding: "matched", Tee: "sample", ConfigSource: "update"}, nil
}

func serve(path string) error {
	os.Remove(path)
	listener, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	server, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	aa.RegisterAttestationAgentServiceService(server, sampleService{})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Close()
	}()
	fmt.Println("listening")
	if err := server.Serve(context.Background(), listener); err != nil && err != ttrpc.ErrServerClosed {
		return err
	}
	return nil
}
