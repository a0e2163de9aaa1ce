// SPDX-License-Identifier: Apache-2.0

// kinesis_v2 drives sluice with the AWS SDK for Go v2 as a Go user would:
// credentials, region and CA bundle from the environment (config.
// LoadDefaultConfig: AWS_SHARED_CREDENTIALS_FILE, AWS_REGION, and
// AWS_CA_BUNDLE or SSL_CERT_FILE), the endpoint from SLUICE_ENDPOINT. It
// creates a stream, PutRecords, reads every shard back with GetRecords and
// prints one JSON object for tests/e2e/test_go.py to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

type record struct {
	Shard          string `json:"shard"`
	PartitionKey   string `json:"partitionKey"`
	Data           string `json:"data"`
	SequenceNumber string `json:"sequenceNumber"`
}

type result struct {
	SDK         string   `json:"sdk"`
	Stream      string   `json:"stream"`
	Put         int      `json:"put"`
	FailedPut   int32    `json:"failedPut"`
	PutSeqs     []string `json:"putSeqs"`
	Records     []record `json:"records"`
	StreamNames []string `json:"streamNames"`
}

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kinesis_v2 STREAM NRECORDS")
		os.Exit(2)
	}
	name := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 || n > 500 {
		fail("NRECORDS", fmt.Errorf("1..500, got %q", os.Args[2]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail("LoadDefaultConfig", err)
	}
	k := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.EndpointResolver = kinesis.EndpointResolverFromURL(os.Getenv("SLUICE_ENDPOINT"))
	})

	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(2)}); err != nil {
		fail("CreateStream", err)
	}
	// Bounded: CREATING lasts --create-delay-ms; ctx caps the whole run.
	for {
		d, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
			StreamName: aws.String(name)})
		if err != nil {
			fail("DescribeStreamSummary", err)
		}
		if d.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	entries := make([]types.PutRecordsRequestEntry, n)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			Data:         []byte(fmt.Sprintf("go-v2 record %d", i)),
		}
	}
	put, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name),
		Records: entries})
	if err != nil {
		fail("PutRecords", err)
	}
	res := result{SDK: "aws-sdk-go-v2", Stream: name, Put: len(put.Records),
		FailedPut: aws.ToInt32(put.FailedRecordCount)}
	for _, r := range put.Records {
		res.PutSeqs = append(res.PutSeqs, aws.ToString(r.SequenceNumber))
	}

	shards, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		fail("ListShards", err)
	}
	for _, sh := range shards.Shards {
		it, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			fail("GetShardIterator", err)
		}
		got, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			fail("GetRecords", err)
		}
		for _, r := range got.Records {
			res.Records = append(res.Records, record{Shard: aws.ToString(sh.ShardId),
				PartitionKey: aws.ToString(r.PartitionKey), Data: string(r.Data),
				SequenceNumber: aws.ToString(r.SequenceNumber)})
		}
	}
	ls, err := k.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		fail("ListStreams", err)
	}
	res.StreamNames = ls.StreamNames
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fail("encode", err)
	}
}
