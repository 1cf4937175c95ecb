package promapi

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
)

// OpenRemoteRead is a querier over a server's remote-read endpoint
// (<base>/api/v1/read), asking for STREAMED_XOR_CHUNKS responses, with
// the given HTTP client config (HTTPClientConfig builds it).
func OpenRemoteRead(ctx context.Context, base string, hc config.HTTPClientConfig, timeout time.Duration, from, to time.Time) (storage.Querier, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("remote read url %q: %w", base, err)
	}
	u = u.JoinPath("api", "v1", "read")
	c, err := remote.NewReadClient("opsdata-raw", &remote.ClientConfig{
		URL:              &config.URL{URL: u},
		Timeout:          model.Duration(timeout),
		HTTPClientConfig: hc,
		ChunkedReadLimit: 50 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("remote read client %s: %w", u, err)
	}
	qa := remote.NewSampleAndChunkQueryableClient(c, labels.EmptyLabels(), nil, true, func() (int64, error) { return 0, nil })
	q, err := qa.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		return nil, fmt.Errorf("remote read %s: %w", u, err)
	}
	return q, nil
}
